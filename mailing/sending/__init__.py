"""The sending pipeline: the ledger, message building, transports behind one contract, the sender.

``ledger`` (who is due, leases, results), ``message`` (values, headers, the prebuilt
raw message), ``transports`` (raw SMTP, any Django backend, ESP batches), ``sender``
(the loop a worker runs) and ``proof`` (test sends). Campaign actions live in
``mailing.campaigns``; django-q2 entry points in ``mailing.tasks``.
"""
