"""django-q2 entry points: thin, taking ids (a signup takes its validated fields: no row
exists yet); the work is in mailing.campaigns, .sending, .signup and .bounce_mailbox."""

import logging

from django.conf import settings
from django_q.conf import Conf

from mailing import bounce_mailbox, campaigns, hits, queue, signup
from mailing.sending.sender import run_sender

logger = logging.getLogger(__name__)


def dispatch(force: bool = False):
    """Start due campaigns and keep every sending campaign served by senders.

    Runs from the periodic schedule, after scheduling, and when a worker process starts.
    """
    campaigns.dispatch(force)


def send_campaign(campaign_id: int):
    """Send leased chunks until the campaign is done, stopped, or this task's time is up."""
    outcome = run_sender(campaign_id)
    if outcome == "more":
        queue.enqueue_senders(campaign_id, count=1)
    return outcome


def flush_tracking():
    """Store the clicks and opens the redirect and pixel queued (every minute)."""
    return hits.flush()


def process_signup(payload: dict):
    """A signup from the API: all the work whose timing would tell the address's state."""
    return signup.process_signup(payload)


def process_bounces():
    """Read the bounce mailbox once (the schedule's entry point); nothing when unset."""
    if not settings.BOUNCE_MAILBOX:
        return None
    try:
        # Within the task's time limit; a big mailbox is finished by the next runs.
        seconds = getattr(settings, "BOUNCE_TASK_SECONDS", 120)
        return bounce_mailbox.process(seconds=seconds).as_dict()
    except bounce_mailbox.MailboxError as exc:
        logger.error("bounce mailbox: %s", exc)  # noqa: TRY400 - the reason is the message
        return {"error": str(exc)}


def on_worker_spawn(sender, proc_name=None, **kwargs):
    """A (re)started worker picks up campaigns whose tasks died with a previous cluster."""
    if Conf.SYNC:
        # Every synchronous task runs in a fresh "worker": a dispatch there would spawn
        # the next one, for ever.
        return
    try:
        queue.enqueue_now(queue.DISPATCH, True, name="mailing-dispatch")
    except Exception:  # noqa: BLE001 - a broker hiccup must not stop the worker
        logger.exception("could not enqueue the campaign dispatcher")


def send_welcome(subscriber_id: int, list_id: int):
    """A list's welcome issue to one newly confirmed subscriber."""
    from mailing import welcome

    return welcome.send_welcome(subscriber_id, list_id)


def run_digests():
    """Draft (and, where a list allows it, send) the digests whose time came."""
    from mailing import digests

    return [run.summary() for run in digests.run_due()]


def expire_pending():
    """Delete signups left unconfirmed past SUBSCRIPTION_PENDING_MAX_AGE."""
    from mailing import retention

    return retention.expire_pending()
