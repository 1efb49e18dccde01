"""The error policy of scrapeguard, in one place (docs/architecture.md repeats it).

=========================================  ==============================================
what goes wrong                            what happens
=========================================  ==============================================
a request event that breaks the contract   dead-lettered with a reason code and its bytes
(any bytes at all)                         (``stream.core.validation``); never a crash
an unexpected error on one request event   dead-lettered as ``processing_error``, logged
                                           with its traceback; the partition goes on
a bad outcome or manual decision record    dead-lettered as ``invalid_outcome`` or
(written by enforcement or operators)      ``invalid_manual_decision``, with its bytes
a bad record on an internal topic          skipped, counted (``skipped``/``bad_*``) and
(group signal, activity, feed item,        logged with a warning
control message, member, changelog)
a fetch error                              retried after a pause, for as long as it lasts
a publish or commit error                  retried with exponential backoff
                                           (``ATTEMPTS``); then :class:`FatalKafkaError`
                                           stops the worker with a non-zero exit code, so
                                           its supervisor restarts it and the batch is
                                           re-delivered — never a silently stalled partition
a commit refused because partitions moved  expected: the new owner resumes from the last
                                           committed offset and skips what state counted
a user's mistake in the CLI                :class:`UserError` (or ValueError, LookupError,
                                           TimeoutError): one line naming what to fix,
                                           exit code 1
=========================================  ==============================================
"""

from __future__ import annotations


class UserError(Exception):
    """An expected failure the user can fix; the CLI prints it as one line."""


class FatalKafkaError(RuntimeError):
    """Publishing or committing kept failing: the worker must stop and exit non-zero."""
