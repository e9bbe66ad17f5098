"""TeX in arXiv metadata, made readable: ``Fr\\'echet`` → Fréchet, ``$\\mathcal{O}(n^2)$`` → 𝒪(n²).

arXiv keeps titles, abstracts and author names as their authors typed them, TeX and all.
:func:`readable` turns that into Unicode for chat and the terminal; it runs on the raw
text, before :func:`bot.typography.clean` and before each adapter escapes what it shows,
so it never has to avoid markup characters itself. Stored papers, search and exports
(BibTeX needs the TeX) keep the raw text.

The conversion is :mod:`pylatexenc` (``LatexNodes2Text``: accents, Greek, symbols, math
alphabets such as ``\\mathcal``/``\\mathbb``/``\\mathbf``), with what metadata needs on top:

- superscripts and subscripts in math become Unicode (``n^2`` → n², ``x_{ij}`` → xᵢⱼ)
  where every character has a form, and otherwise stay readable as ``^{...}``/``_{...}``;
- ``\\url{u}`` is the link and ``\\href{u}{text}`` is ``text (u)``;
- what authors type as plain text stays as typed: ``%`` (a TeX comment would swallow the
  rest of the line), ``&``, ``~``, ``--``, bare URLs, and ``$`` when the dollars do not pair;
- an unknown macro stays visible (``\\Q``) rather than vanishing.

It never raises: whatever the parser cannot make sense of comes back as the input.
"""

# This module is about look-alike characters (superscripts, Greek, primes): ruff's warnings
# about ambiguous Unicode would flag its tables and examples throughout.
# ruff: noqa: RUF001, RUF002, RUF003

from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
from collections.abc import Callable
from typing import Any

from pylatexenc import latexwalker, macrospec
from pylatexenc.latex2text import (
    LatexNodes2Text,
    MacroTextSpec,
    SpecialsTextSpec,
    get_default_latex_context_db,
)

__all__ = ["readable"]

logger = logging.getLogger(__name__)

_TEX = re.compile(r"[\\${}]|``")
"""What makes text worth parsing (TeX's ````quotes''```` too): most titles have none of it
and are returned as they are."""

_URL = re.compile(r"(?:https?|ftp)://[^\s{}\\$]+|www\.[^\s{}\\$]+", re.IGNORECASE)
_LITERAL = re.compile(r"(?<!\\)(?:[%&~#]|-{2,3})")
"""Characters TeX reads specially that authors of metadata mean literally."""
_DOLLAR = re.compile(r"(?<!\\)\$")
_PRICE = re.compile(r"(?<!\\)\$(?!\d)")
_SCRIPT_MACRO = re.compile(
    r"(?<!\\)([_^])\s*(\\(?:math[a-z]+|text[a-z]*|operatorname|boldsymbol|bm|mbox|bar|hat|tilde"
    r"|vec|dot|ddot|overline|widetilde|widehat|sqrt)\s*\{[^{}$]*\})"
)
"""``x_\\mathrm{in}``: the parser would take ``\\mathrm`` alone as the subscript."""
_PROTECTED = re.compile("[\ue000-\uf8ff]")
_PLACEHOLDER_BASE = 0xE000
_MAX_PLACEHOLDERS = 0x1800
_MAX_SCRIPT_LETTERS = 3
"""``x_{max}`` is xₘₐₓ, but a longer word in small letters is hard to read: ``x_{init}``."""
_SPACES = re.compile(r"[^\S\n]")

# Unicode has superscript and subscript forms for digits, a few signs and some letters.
_SUPERSCRIPTS = dict(
    zip(
        "0123456789+-−=()niabcdefghjklmoprstuvwxyzABDEGHIJKLMNOPRTUVWαβγδεθιφχ",
        "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ⁿⁱᵃᵇᶜᵈᵉᶠᵍʰʲᵏˡᵐᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂᵅᵝᵞᵟᵋᶿᶥᵠᵡ",
        strict=True,
    )
)
# Marks that already sit high: x^\prime is x′, 90^\circ is 90°, A^\top is Aᵀ.
_SUPERSCRIPTS.update({"′": "′", "″": "″", "*": "*", "∗": "*", "†": "†", "‡": "‡"})
_SUPERSCRIPTS.update({"∘": "°", "°": "°", "⊤": "ᵀ", "'": "′"})
_SUBSCRIPTS = dict(
    zip(
        "0123456789+-−=()aehijklmnoprstuvxβγρφχ",
        "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓᵦᵧᵨᵩᵪ",
        strict=True,
    )
)


def readable(text: str) -> str:
    """``text`` with its TeX turned into readable Unicode; ``text`` itself when it has
    none, or when it cannot be read as TeX. Never raises. Cached: a harvest shows the
    same titles in posts, digests and lists."""
    if not _TEX.search(text):
        return text
    return _converted(text)


@functools.lru_cache(maxsize=4096)
def _converted(text: str) -> str:
    quick = _accents_only(text)
    if quick is not None:
        return quick
    try:
        with _LOCK:
            result = _convert(text)
    except Exception:  # the parser's errors are not part of its API; any one means "as typed"
        logger.debug("TeX not converted: %r", text[:200], exc_info=True)
        return text
    if not result.strip() and text.strip():
        return text
    return result


_COMBINING = {
    "'": "\u0301",
    '"': "\u0308",
    "`": "\u0300",
    "^": "\u0302",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "H": "\u030b",
    "c": "\u0327",
    "v": "\u030c",
    "u": "\u0306",
    "k": "\u0328",
    "r": "\u030a",
}
_LETTERS = {
    "o": "ø",
    "O": "Ø",
    "ss": "ß",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "l": "ł",
    "L": "Ł",
    "aa": "å",
    "AA": "Å",
    "i": "ı",
    "j": "ȷ",
}
_LETTER = r"(?:[A-Za-z]|\\[ij](?![A-Za-z]))"
_ACCENT = re.compile(
    rf"\{{\\(?P<a>['\"`^~=.])\s*(?P<l>{_LETTER})\}}"  # {\"o}
    rf"|\{{\\(?P<b>['\"`^~=.Hcvukr])\{{(?P<m>{_LETTER})\}}\}}"  # {\"{o}}
    rf"|\\(?P<c>['\"`^~=.Hcvukr])\{{(?P<n>{_LETTER})\}}"  # \"{o}
    rf"|\\(?P<d>['\"`^~=.])(?P<o>{_LETTER})"  # \"o
)
_SPECIAL_LETTER = re.compile(
    r"\{\\(o|O|ss|ae|AE|oe|OE|l|L|aa|AA)\}|\\(o|O|ss|ae|AE|oe|OE|l|L|aa|AA)\{\}"
)
_NOT_QUICK = re.compile(r"[_^]|``|''")
_SIMPLE_GROUP = re.compile(r"\{([^{}\\$%&~#^_]*)\}")


def _accent(match: re.Match[str]) -> str:
    accent = match["a"] or match["b"] or match["c"] or match["d"]
    letter = match["l"] or match["m"] or match["n"] or match["o"]
    return letter[-1] + _COMBINING[accent]  # \i and \j take the accent as i and j


def _accents_only(text: str) -> str | None:
    """``text`` converted without the parser when accents and special letters
    (``Fr\\'echet``, ``{\\"o}``, ``{\\o}``, ``\\ss{}``) and plain ``{groups}`` are all its
    TeX, as in most author names and accented titles; None otherwise. ~20x faster."""
    if _NOT_QUICK.search(text):
        return None
    text = _ACCENT.sub(_accent, text)
    text = _SPECIAL_LETTER.sub(lambda match: _LETTERS[match[1] or match[2]], text)
    text = _SIMPLE_GROUP.sub(r"\1", text)
    if _TEX.search(text):
        return None
    return unicodedata.normalize("NFC", text)


def _convert(text: str) -> str:
    if _PROTECTED.search(text):
        return text  # private-use characters would be taken for our placeholders
    saved: list[str] = []

    def keep(piece: str) -> str:
        if len(saved) >= _MAX_PLACEHOLDERS:
            raise ValueError("too many literal pieces")
        saved.append(piece)
        return chr(_PLACEHOLDER_BASE + len(saved) - 1)

    def keep_match(match: re.Match[str]) -> str:
        return keep(match.group())

    text = _URL.sub(keep_match, text)
    text = _LITERAL.sub(keep_match, text)
    dollars = len(_DOLLAR.findall(text))
    if dollars % 2 or not _PRICE.search(text):
        text = _DOLLAR.sub(keep_match, text)  # unpaired, or all before digits ("$5 and $10"): money
    text = _SCRIPT_MACRO.sub(r"\1{\2}", text)
    text = _shield_plain_words(text, keep)
    walker = latexwalker.LatexWalker(text, latex_context=_WALKER_DB, tolerant_parsing=True)
    nodes, _, _ = walker.get_latex_nodes()
    result: str = _CONVERTER.nodelist_to_text(nodes)
    for _ in range(2):  # a run of plain words may hold an earlier placeholder (a URL, a "%")
        result = _PROTECTED.sub(lambda match: saved[ord(match.group()) - _PLACEHOLDER_BASE], result)
    return _SPACES.sub(" ", result)  # no-break and thin spaces as plain spaces


_TEX_WORD = re.compile(r"[\\${}^_`]|''")
"""A word with any of these is parsed; others outside math are plain text."""
_MACRO_END = re.compile(r"\\(?:[A-Za-z]+|[^A-Za-z])$")
_MATH_SWITCH = re.compile(r"\\[(\[]|\\begin")


def _shield_plain_words(text: str, keep: Callable[[str], str]) -> str:
    """``text`` with each run of plain words outside math saved as one placeholder.

    The parser reads a character at a time, so a title costs ~0.5 ms and an abstract
    several; most of either is plain words. A word is plain when it has nothing TeX reads
    (no backslash, dollar, brace, script sign or TeX quote), is outside ``$...$``, and
    does not follow a bare macro (``\\v s``, ``\\mathbb R``: it may be the argument).
    """
    if _MATH_SWITCH.search(text):
        return text  # \(...\), \[...\] and environments: math is not just between dollars
    pieces = re.split(r"(\s+)", text)
    out: list[str] = []
    run: list[str] = []
    in_math = False
    previous = ""
    for index, piece in enumerate(pieces):
        if index % 2:  # whitespace between words
            (run if run else out).append(piece)
            continue
        plain = (
            piece
            and not in_math
            and not _TEX_WORD.search(piece)
            and not _MACRO_END.search(previous)
        )
        if plain:
            run.append(piece)
        else:
            if run:
                trailing = run.pop() if len(run) > 1 and run[-1].isspace() else ""
                out.append(keep("".join(run)))
                out.append(trailing)
                run = []
            out.append(piece)
            in_math ^= len(_DOLLAR.findall(piece)) % 2 == 1
        previous = piece
    if run:
        out.append(keep("".join(run)))
    return "".join(out)


# -- the parts pylatexenc leaves out


def _arg_text(node: Any, index: int, converter: Any) -> str:
    args = node.nodeargd.argnlist if node.nodeargd is not None else []
    arg = args[index] if index < len(args) else None
    return "" if arg is None else str(converter.nodelist_to_text([arg])).strip()


def _script(node: Any, l2tobj: Any) -> str:
    """``^`` and ``_`` with their argument: Unicode superscripts or subscripts in math
    when the whole argument has them, else ``^x`` or ``^{xy}``; as typed outside math."""
    sign = node.specials_chars
    args = node.nodeargd.argnlist if node.nodeargd is not None else []
    arg = args[0] if args else None
    if not node.parsing_state.in_math_mode:
        return str(sign) + ("" if arg is None else str(arg.latex_verbatim()))
    content = "" if arg is None else str(l2tobj.nodelist_to_text([arg])).strip()
    table = _SUPERSCRIPTS if sign == "^" else _SUBSCRIPTS
    letters = sum(char.isalpha() for char in content)
    if content and letters <= _MAX_SCRIPT_LETTERS and all(char in table for char in content):
        return "".join(table[char] for char in content)
    return f"{sign}{content}" if len(content) == 1 else f"{sign}{{{content}}}"


def _href(node: Any, l2tobj: Any) -> str:
    url = _arg_text(node, 0, l2tobj)
    label = _arg_text(node, 1, l2tobj)
    return url if not label or label == url else f"{label} ({url})"


def _sqrt(node: Any, l2tobj: Any) -> str:
    content = _arg_text(node, 1, l2tobj)
    return f"√{content}" if len(content) == 1 or content.isdigit() else f"√({content})"


def _unknown(node: Any) -> str:
    """A macro nobody defined (``\\Q`` for ℚ in one paper): shown as typed, not dropped."""
    return "\\" + str(node.macroname) + str(node.macro_post_space or "")


_SWITCHES = (
    *("bf", "it", "rm", "em", "sl", "sf", "tt", "sc", "md", "up", "normalfont"),
    *("bfseries", "mdseries", "itshape", "upshape", "slshape", "scshape"),
    *("rmfamily", "sffamily", "ttfamily", "displaystyle", "textstyle", "scriptstyle"),
)
"""Old-style font and size switches (``{\\bf x}``): the text after them is what shows."""
_PASSED_THROUGH = ("operatorname", "mathop", "textnormal", "textup", "textsc", "textmd", "mbox")
_STYLED = {"cal": "mathcal", "bm": "mathbf", "boldsymbol": "mathbf", "pmb": "mathbf"}


def _walker_db() -> Any:
    db = latexwalker.get_default_latex_context_db()
    args = macrospec.MacroStandardArgsParser("{")
    db.add_context_category(
        "arxiv-bot",
        prepend=True,
        macros=[
            macrospec.std_macro("url", False, 1),
            macrospec.std_macro("href", False, 2),
            *(macrospec.std_macro(name, False, 0) for name in _SWITCHES),
            *(macrospec.std_macro(name, False, 1) for name in [*_PASSED_THROUGH, *_STYLED]),
        ],
        specials=[macrospec.SpecialsSpec(sign, args_parser=args) for sign in "^_"],
    )
    return db


def _text_db() -> Any:
    db = get_default_latex_context_db()
    plain: list[tuple[str, str | Callable[..., str]]] = [
        ("url", lambda node, l2tobj: _arg_text(node, 0, l2tobj)),
        ("href", _href),
        ("sqrt", _sqrt),
        ("LaTeX", lambda node: "LaTeX"),
        ("TeX", lambda node: "TeX"),
    ]
    styled = [
        MacroTextSpec(name, simplify_repl=db.get_macro_spec(like).simplify_repl)
        for name, like in _STYLED.items()
    ]
    db.add_context_category(
        "arxiv-bot",
        prepend=True,
        macros=[
            *(MacroTextSpec(name, simplify_repl=repl) for name, repl in plain),
            *(MacroTextSpec(name, simplify_repl="") for name in _SWITCHES),
            *(MacroTextSpec(name, discard=False) for name in _PASSED_THROUGH),
            *styled,
        ],
        environments=[],
        specials=[SpecialsTextSpec(sign, simplify_repl=_script) for sign in "^_"],
    )
    db.set_unknown_macro_spec(MacroTextSpec("", simplify_repl=_unknown))
    return db


_WALKER_DB = _walker_db()
_LOCK = threading.Lock()
"""The converter switches its own settings while it renders math: one call at a time."""
# Spaces after a macro in math are kept ("\log n" is "log n", not "logn").
_CONVERTER = LatexNodes2Text(
    latex_context=_text_db(), math_mode="text", strict_latex_spaces="macros"
)
