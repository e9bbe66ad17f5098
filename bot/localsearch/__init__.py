"""Search the bot's own store: the full-text index of every harvested paper.

:mod:`~bot.localsearch.terms` turns papers into index documents, with the same words
and stems as the local matcher; :mod:`~bot.localsearch.translate` turns a parsed query
into an FTS5 expression over them; :mod:`~bot.localsearch.engine` decides whether the
index can answer and runs the search; :mod:`~bot.localsearch.snippets` picks the line
of the abstract to show; :mod:`~bot.localsearch.similar` finds papers like one paper.
"""
