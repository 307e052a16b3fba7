"""Recompute subscriber addresses and hashes under email-validator's normal form.

Before, an address was only trimmed and its domain lower-cased, so full-width,
punycode and NFD spellings of one mailbox hashed apart. Plain ASCII addresses (almost
every row) keep the same hash; the others get the normal form as ``email``, the old
spelling in ``email_as_typed``, the new hash, and their suppression moves to the new hash.

What cannot be recomputed: the suppression hashes of people erased earlier, and of
addresses suppressed by hand with no subscriber row. Only their hash is left, so
``Suppression.is_suppressed`` also looks up the old hash of the spelling as typed: the
exact spelling stays blocked; another spelling of such an address is not recognised.

When a recomputed address is already held by another subscriber (two spellings that
signed up separately), the row keeps its stored address and only takes the shared hash:
both are suppressed together, and merging their histories is left to a person.

The rule is copied here, not imported, so that this migration keeps meaning what it did.
"""

import hashlib
import unicodedata

from django.db import migrations
from email_validator import EmailNotValidError, validate_email


def normalise(address):
    address = unicodedata.normalize("NFC", (address or "").strip())
    if not address.isascii() or "xn--" in address.lower():
        try:
            return validate_email(address, check_deliverability=False).normalized
        except EmailNotValidError:
            pass
    local, sep, domain = address.rpartition("@")
    return f"{local}{sep}{domain.lower()}" if sep else address


def hash_of(address):
    return hashlib.sha256(normalise(address).lower().encode()).hexdigest()


def forwards(apps, schema_editor):
    Subscriber = apps.get_model("mailing", "Subscriber")
    Suppression = apps.get_model("mailing", "Suppression")
    rows = Subscriber.objects.exclude(status="erased").values_list("pk", "email", "email_hash")
    changes = []
    for pk, email, old_hash in rows.iterator(chunk_size=2000):
        new_email, new_hash = normalise(email), hash_of(email)
        if new_email != email or new_hash != old_hash:
            changes.append((pk, email, old_hash, new_email, new_hash))
    for pk, email, old_hash, new_email, new_hash in changes:
        fields = {"email_hash": new_hash}
        if (
            new_email != email
            and not Subscriber.objects.filter(email__iexact=new_email).exclude(pk=pk).exists()
        ):
            fields.update(email=new_email, email_as_typed=email)
        Subscriber.objects.filter(pk=pk).update(**fields)
        if old_hash != new_hash:
            old = Suppression.objects.filter(email_hash=old_hash)
            if Suppression.objects.filter(email_hash=new_hash).exists():
                old.delete()
            else:
                old.update(email_hash=new_hash)


class Migration(migrations.Migration):
    dependencies = [("mailing", "0005_subscriber_email_as_typed")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
