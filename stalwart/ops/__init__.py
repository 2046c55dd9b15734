"""Operations: what the CLI and the console both show and do.

One module per listing (:mod:`.queues`, :mod:`.workers`, :mod:`.limits`,
:mod:`.schedules`) and one for operator actions (:mod:`.actions`), so that no listing
is implemented twice and every action writes the audit log the same way, whoever
asks for it (``stalwart ...`` on a terminal, or a person in the console).
"""
