"""Exports: a channel's delivered papers (or a query's) as a file, and BibTeX.

One small module per format (:mod:`~bot.export.markdown`, :mod:`~bot.export.bibtex`,
:mod:`~bot.export.csvfile`, :mod:`~bot.export.jsonfile`); :mod:`~bot.export.sections`
holds what they all render, :mod:`~bot.export.collect` reads it from the store and
:mod:`~bot.export.files` turns it into a :class:`~bot.models.ReplyFile`.
"""
