"""A fake OpenAI-compatible chat-completions endpoint: a real HTTP server on 127.0.0.1.

Point the real ``openai`` client (or the TL;DR maker) at :attr:`FakeLlm.base_url`::

    with running_fake_llm(api_key="sk-test-key") as fake:
        client = AsyncOpenAI(base_url=fake.base_url, api_key="sk-test-key")
        ...
        assert fake.chats[0].body["model"] == "tiny"

What it serves at ``POST /v1/chat/completions``: OpenAI's wire format, ``{"id",
"object": "chat.completion", "created", "model", "choices": [{"index": 0, "message":
{"role": "assistant", "content"}, "finish_reason": "stop"}], "usage"}``, with usage
estimated at four characters a token. The request must carry ``Authorization: Bearer
<api_key>`` (401 otherwise), a JSON object with ``model`` (404 when the fake serves
another) and a non-empty ``messages`` list (400 otherwise); errors are OpenAI's
``{"error": {"message", "type", "code"}}``. The answer is :func:`default_answer` of the
paper title in the last user message, or what :meth:`FakeLlm.answer_with` computes.

Scripted trouble, one request at a time in the order scripted (see
:class:`~tests.fakes.http_server.Script`): :meth:`~FakeLlm.fail_next` (any status, a
``Retry-After`` for 429), :meth:`~FakeLlm.delay_next` (slow),
:meth:`~FakeLlm.hang_next` (headers, then nothing), :meth:`~FakeLlm.trickle_next` (a
byte at a time), :meth:`~FakeLlm.cut_next` (half the body, then the connection closes),
:meth:`~FakeLlm.serve_next` (any body: malformed JSON, nothing at all) and
:meth:`~FakeLlm.answer_next` (a well-formed answer with any content: empty, hostile,
long). Every request is logged twice: in :attr:`~FakeLlm.requests` as every fake does,
and in :attr:`~FakeLlm.chats` with its JSON body.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tests.fakes.http_server import (
    Answer,
    FakeHttpServer,
    RecordedRequest,
    Script,
    _Handler,
)

__all__ = ["CHAT_PATH", "ChatRequest", "FakeLlm", "default_answer", "running_fake_llm"]

CHAT_PATH = "/v1/chat/completions"
JSON = "application/json"
_TITLE = re.compile(r"^Title: (.*)$", re.MULTILINE)


def default_answer(title: str) -> str:
    """What the fake says about a paper titled ``title``: one plain sentence."""
    return f"The paper on {title.rstrip('.').lower()} shows a simpler method that works better."


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One chat-completions request: headers, the JSON body (None when it was not a JSON
    object) and the status answered."""

    headers: dict[str, str]
    body: dict[str, Any] | None
    status: int

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.body or {}).get("messages") or [])


@dataclass(slots=True)
class _LlmScript(Script):
    body: bytes | None = None
    """Sent verbatim with HTTP 200 instead of an answer."""
    content: str | None = None
    """The assistant's content in an otherwise normal answer."""
    finish_reason: str = "stop"


class FakeLlm(FakeHttpServer[_LlmScript]):
    """An OpenAI-compatible chat endpoint; :attr:`base_url` ends in ``/v1``."""

    def __init__(self, *, api_key: str = "sk-fake-key", model: str | None = None) -> None:
        super().__init__(path=CHAT_PATH, name="fake-llm")
        self._server.RequestHandlerClass = _ChatHandler
        self.api_key = api_key
        self.model = model
        """The only model served; None: any."""
        self._chats: list[ChatRequest] = []
        self._answer_for: Callable[[str], str] = default_answer
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, what ``LLM_API_URL`` is set to."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- what happened

    @property
    def chats(self) -> list[ChatRequest]:
        """Every ``POST`` received, in order of completion."""
        with self._lock:
            return list(self._chats)

    # -- answers and scripted trouble

    def answer_with(self, answer: Callable[[str], str]) -> None:
        """Answer every normal request with ``answer(title)``."""
        with self._lock:
            self._answer_for = answer

    def answer_next(self, content: str, *, finish_reason: str = "stop", times: int = 1) -> None:
        self._add_script(_LlmScript(content=content, finish_reason=finish_reason, times=times))

    def serve_next(self, body: bytes, *, times: int = 1) -> None:
        """HTTP 200 with ``body`` as it is (``b"{not json"``, ``b""``)."""
        self._add_script(_LlmScript(body=body, times=times))

    def fail_next(self, status: int, *, retry_after: str | None = None, times: int = 1) -> None:
        self._add_script(_LlmScript(status=status, retry_after=retry_after, times=times))

    def delay_next(self, seconds: float, *, times: int = 1) -> None:
        self._add_script(_LlmScript(delay=seconds, times=times))

    def hang_next(self, *, times: int = 1) -> None:
        self._add_script(_LlmScript(hang=True, times=times))

    def trickle_next(self, seconds_per_byte: float, *, times: int = 1) -> None:
        self._add_script(_LlmScript(trickle=seconds_per_byte, times=times))

    def cut_next(self, *, times: int = 1) -> None:
        """Half the answer, though ``Content-Length`` announced all of it."""
        self._add_script(_LlmScript(cut=True, times=times))

    # -- serving

    def _respond(self, params: dict[str, str], script: _LlmScript | None) -> Answer:
        return _error(405, "Use POST for chat completions.", "invalid_request_error")

    def _failure(self, script: _LlmScript, params: dict[str, str]) -> Answer:
        assert script.status is not None
        status, headers, body = _error(
            script.status,
            "Rate limit reached." if script.status == 429 else "The server had an error.",
            "rate_limit_exceeded" if script.status == 429 else "server_error",
        )
        if script.retry_after is not None:
            headers["Retry-After"] = script.retry_after
        return status, headers, body

    def _chat(self, headers: dict[str, str], raw: bytes, script: _LlmScript | None) -> Answer:
        """The answer to a ``POST`` of the chat endpoint that no failure was scripted for."""
        bearer = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if bearer != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(400, "The request body is not valid JSON.", "invalid_request_error")
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return _error(400, "You must provide a model parameter.", "invalid_request_error")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return _error(400, "messages must be a non-empty list.", "invalid_request_error")
        if self.model is not None and body["model"] != self.model:
            return _error(404, f"The model {body['model']} does not exist.", "model_not_found")
        if script is not None and script.body is not None:
            return 200, {"Content-Type": JSON}, script.body
        prompt = "".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
        if script is not None and script.content is not None:
            content, finish = script.content, script.finish_reason
        else:
            found = _TITLE.search(str(messages[-1].get("content", "")))
            with self._lock:
                answer = self._answer_for
            content, finish = answer(found.group(1) if found else "this topic"), "stop"
        prompt_tokens, answer_tokens = len(prompt) // 4 + 1, len(content) // 4 + 1
        completion = {
            "id": f"chatcmpl-fake{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": answer_tokens,
                "total_tokens": prompt_tokens + answer_tokens,
            },
        }
        return 200, {"Content-Type": JSON}, json.dumps(completion).encode()

    def _record_chat(self, chat: ChatRequest) -> None:
        with self._lock:
            self._chats.append(chat)


def _error(status: int, message: str, code: str) -> Answer:
    kind = "invalid_request_error" if status < 500 and status != 429 else "server_error"
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return status, {"Content-Type": JSON}, json.dumps(body).encode()


class _ChatHandler(_Handler):
    """The shared handler, which answers ``GET``, taught ``POST`` with a JSON body."""

    def do_POST(self) -> None:
        fake = self.server.fake
        assert isinstance(fake, FakeLlm)
        started = time.monotonic()
        headers = dict(self.headers.items())
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        path = self.path.split("?", 1)[0]
        script = fake._enter()
        answer: Answer | None = None
        try:
            if script is not None and not fake._sleep(script.delay):
                answer = None  # the server is stopping
            elif script is not None and script.status is not None:
                answer = fake._failure(script, {})
            elif path != CHAT_PATH:
                answer = _error(404, f"Unknown path {path}.", "not_found")
            else:
                answer = fake._chat(headers, raw, script)
        finally:
            status = answer[0] if answer else 0
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            fake._record_chat(
                ChatRequest(headers, parsed if isinstance(parsed, dict) else None, status)
            )
            fake._leave(
                RecordedRequest(
                    method="POST",
                    path=path,
                    params={},
                    headers=headers,
                    status=status,
                    started=started,
                    finished=time.monotonic(),
                )
            )
        if answer is not None:
            self.send_answer(answer, script)


@contextlib.contextmanager
def running_fake_llm(
    *, api_key: str = "sk-fake-key", model: str | None = None
) -> Iterator[FakeLlm]:
    """A started :class:`FakeLlm`, stopped when the block ends."""
    with FakeLlm(api_key=api_key, model=model) as fake:
        yield fake
