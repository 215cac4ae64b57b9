"""Notifications: an in-app inbox per user and e-mail through a transactional outbox.

``notify(session, recipients, kind, subject, body, link=…)`` writes, in the caller's unit of work,
one inbox row and one outbox row (``outbound_mail``) per recipient. Nothing leaves the process
before that transaction commits, so a rolled-back action never mails anybody:

1. after the commit, the unit of work calls :func:`enqueue_pending`, which hands one ``mail.send``
   job per new mail to the job queue (arq or in-process);
2. ``mail.send`` claims its row, sends through the configured :class:`~allmende.core.mail.Mailer`
   and marks it sent. A failure records the error and raises, so the runner retries with backoff;
3. ``mail.flush`` runs every ``SWEEP_SECONDS`` and re-enqueues mails that are due and still unsent
   (an enqueue lost while Redis was down, a job that used up its tries, a claim whose holder died):
   retries that span hours live in the database, not in Redis. After ``MAX_ATTEMPTS`` a mail is
   given up and marked failed.

A request never waits for an SMTP server.

Why a package of its own: notifications own tables, jobs and an API of their own, and they are told
what to say by the domains (``offer_requests`` calls ``notifications.services.notify``), so they are
not infrastructure that knows no one; ``allmende/core`` keeps only the SMTP mailer
(:mod:`allmende.core.mail`). Subjects and bodies may be texts to translate
(:class:`allmende.core.translation.Text`): ``notify`` renders them once per recipient, in that
person's language, so the inbox keeps each entry in the language it was written in.

The claims, their renewal and the fencing of the ``mail.*`` jobs are described in :mod:`notifications.jobs`.
The inbox API (``GET /api/v1/inbox``, ``POST /api/v1/inbox/{uuid}/read``) is for signed-in users
(:mod:`notifications.controllers`).
"""
