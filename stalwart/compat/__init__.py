"""Every use of Celery's and kombu's internals, behind one door.

Stalwart reaches past Celery's public API in exactly these places, each written against
the versions in :data:`~stalwart.compat.versions.SUPPORTED` and nowhere else:

=====================  ==============================================================
module                 what it relies on
=====================  ==============================================================
:mod:`.versions`       the supported Celery/kombu range; importing Stalwart with any
                       other version fails with one line
:mod:`.backend`        Celery's Redis result backend ``set()`` (state writes carry
                       Stalwart's riders), ``chord_error_from_stack`` (tasks a chord
                       fails unrun are recorded) and ``celery.app.trace``'s STARTED rule
:mod:`.transport`      kombu's Redis ``Channel``/``QoS`` (one client per channel, no
                       message lost between BRPOP and its unacked copy, an unreadable
                       envelope quarantined: ``_brpop_read``), installed
                       through Celery's ``amqp`` class so the scheme stays ``redis``
:mod:`.capture`        kombu's publish batches (``Producer.batch``): the exact Redis
                       commands a publish would send, recorded instead of sent
:mod:`.kombu_layout`   kombu's Redis key layout (queue lists per priority, bindings,
                       unacked hash), read from kombu's own classes
:mod:`.undecodable`    how kombu's consumer reads an envelope (``Message``,
                       ``QoS.append``), to quarantine one it cannot read
:mod:`.worker`         ``celery worker``'s one-line exit on ``SecurityError`` (a
                       worker refused at start: pickle, unordered timeouts) and its
                       stop flag (``maybe_shutdown``) while the start waits
=====================  ==============================================================

A new Celery or kombu release is supported by re-reading these modules against it,
running the suite, and widening :data:`~stalwart.compat.versions.SUPPORTED` together
with ``pyproject.toml``.
"""

from __future__ import annotations

from stalwart.compat.versions import SUPPORTED, require_supported

__all__ = ["SUPPORTED", "require_supported"]

require_supported()
