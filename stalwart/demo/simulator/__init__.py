"""A stand-in for the SMS provider: a real local HTTP server, in its own process.

It behaves like the real thing in every way that matters to the CRM: it honours
``Idempotency-Key`` (a retried send is not sent twice), keeps a ledger of what it
actually accepted, calls the CRM's webhook back (signed; sometimes twice, in no
particular order, sometimes before it has even answered the send), and fails on
purpose as its fault plan says: outages (503), rate limits (429 + ``Retry-After``),
slow answers (the client times out after the send was accepted), carrier errors
(500) and numbers it refuses (400).

- :mod:`.faults`     the fault plan and timed incidents
- :mod:`.ledger`     what was accepted (JSON lines), and every attempt
- :mod:`.callbacks`  the webhook dispatcher
- :mod:`.provider`   the provider's behaviour, HTTP aside
- :mod:`.server`     the HTTP server and ``serve()``
"""
