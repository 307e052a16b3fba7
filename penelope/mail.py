"""The local mail catcher: the default outgoing-mail backend when EMAIL_URL is unset.

Every message is written as an ``.eml`` file that any mail client opens, so a person
running the product locally can see exactly what a subscriber would receive.
"""

import uuid
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone


class CatcherBackend(BaseEmailBackend):
    def __init__(self, file_path=None, **kwargs):
        super().__init__(**kwargs)
        self.directory = Path(file_path or settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages):
        if not email_messages:
            return 0
        self.directory.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
            path = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
            try:
                path.write_bytes(message.message().as_bytes(linesep="\r\n"))
            except Exception:
                if not self.fail_silently:
                    raise
            else:
                sent += 1
        return sent
