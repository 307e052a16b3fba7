"""The click queue: spool files shared by processes, and Redis; nothing lost, nothing twice."""

import multiprocessing
import os

import pytest

from mailing import hits
from mailing.models import CampaignLink, Delivery, DeliveryEvent, Engagement

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(seeded):
    """A started campaign of the demo issue: its deliveries and links."""
    from mailing import campaigns

    campaign = campaigns.create(seeded["newsletter"], [seeded["mailing_list"]])
    assert campaigns.schedule(campaign)
    assert campaigns.start(campaign.pk)
    deliveries = list(Delivery.objects.filter(campaign=campaign).values_list("pk", flat=True))
    link_ids = list(CampaignLink.objects.filter(campaign=campaign).values_list("pk", flat=True))
    return campaign, deliveries, link_ids


def _append_many(directory, lines):
    queue = hits.SpoolQueue(directory)
    for line in lines:
        queue.append(line)


def test_spool_files_from_several_processes_are_flushed_whole(tmp_path, settings, sent):
    _campaign, deliveries, link_ids = sent
    settings.REDIS_URL = ""
    settings.TRACKING_SPOOL_DIR = tmp_path
    lines = [
        f"c {deliveries[i % len(deliveries)]} {link_ids[i % len(link_ids)]} 1700000000\n"
        for i in range(600)
    ]
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(tmp_path, lines[i::3])) for i in range(3)]
    for worker in workers:
        worker.start()
    stored = 0
    # Flush while the writers are still appending: renamed files are never lost.
    while any(worker.is_alive() for worker in workers):
        stored += hits.flush()
    for worker in workers:
        worker.join()
        assert worker.exitcode == 0
    stored += hits.flush()
    assert stored == 600
    assert Engagement.objects.count() == 600
    assert not list(tmp_path.glob("*.log")) and not list(tmp_path.glob("*.work"))
    # One "clicked" event per reader and link, whatever the number of clicks.
    pairs = {(deliveries[i % len(deliveries)], link_ids[i % len(link_ids)]) for i in range(600)}
    assert DeliveryEvent.objects.filter(kind="clicked").count() == len(pairs)


def test_garbage_in_the_queue_is_skipped(tmp_path, settings, sent):
    _campaign, deliveries, link_ids = sent
    settings.REDIS_URL = ""
    settings.TRACKING_SPOOL_DIR = tmp_path
    queue = hits.queue()
    for line in [
        "x 1 2 3\n",
        "c notanumber 1 1\n",
        f"c {deliveries[0]} 99999999 1700000000\n",  # a link of no campaign
        f"c 99999999 {link_ids[0]} 1700000000\n",  # a delivery that is gone
        f"c {deliveries[0]} {link_ids[0]} 1700000000\n",
        f"o {deliveries[0]} 0 1700000000\n",
    ]:
        queue.append(line)
    assert hits.flush() == 2
    assert set(Engagement.objects.values_list("kind", flat=True)) == {"click", "open"}


@pytest.mark.skipif(
    not os.environ.get("INTEGRATION_REDIS_URL"), reason="INTEGRATION_REDIS_URL not set"
)
def test_redis_queue_survives_a_flush_that_died(settings, sent):
    _campaign, deliveries, link_ids = sent
    settings.REDIS_URL = os.environ["REDIS_URL"]
    queue = hits.queue()
    assert isinstance(queue, hits.RedisQueue)
    queue.redis.delete(hits.REDIS_QUEUE, hits.REDIS_WORK, hits.REDIS_LOCK)
    for d in deliveries:
        hits.record(hits.CLICK, d, link_ids[0])
    # A flush that dies after taking the queue leaves it in the work list.
    with pytest.raises(RuntimeError), queue.drain() as lines:
        assert len(lines) == len(deliveries)
        raise RuntimeError("worker killed")
    assert queue.redis.llen(hits.REDIS_WORK) == len(deliveries)
    hits.record(hits.CLICK, deliveries[0], link_ids[1])  # queued meanwhile
    assert hits.flush() == len(deliveries)  # the leftover work first
    assert hits.flush() == 1
    assert hits.flush() == 0
    assert Engagement.objects.count() == len(deliveries) + 1
