"""A real IMAP and POP3 server on loopback (Debian's Dovecot), for the bounce mailbox tests.

``Dovecot(tmp)`` writes a throwaway configuration under ``tmp`` (one passwd-file user,
maildir storage, plain-text login on 127.0.0.1 only, no TLS), starts ``dovecot -F`` on
free ports and stops it again. ``dovecot_server`` is the fixture; it skips when the
``dovecot-imapd``/``dovecot-pop3d`` packages are not installed.
"""

import getpass
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

BINARY = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "bounces", "s3cret@pass/word?#"

CONFIG = """\
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{tmp}/mail/%u
pop3_uidl_format = %08Xu%08Xv
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {tmp}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={tmp}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    def __init__(self, tmp: Path):
        self.tmp = Path(tmp)
        self.imap_port, self.pop3_port = _free_port(), _free_port()
        self.process = None

    def url(self, scheme: str, folder: str = "", query: str = "") -> str:
        from urllib.parse import quote

        port = self.imap_port if scheme.startswith("imap") else self.pop3_port
        url = f"{scheme}://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:{port}/{folder}"
        return f"{url}?{query}" if query else url

    def start(self):
        if os.geteuid() == 0:
            # Mail belongs to Dovecot's own unprivileged user; its login processes run
            # as dovenull (both created by the Debian package).
            owner, login = pwd.getpwnam("dovecot"), "dovenull"
        else:
            owner, login = pwd.getpwuid(os.getuid()), getpass.getuser()
        for sub in ("run", "state", "mail"):
            (self.tmp / sub).mkdir(parents=True, exist_ok=True)
        # Dovecot's unprivileged processes read the passwd file and the mail below here.
        self.tmp.chmod(0o711)
        (self.tmp / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        (self.tmp / "passwd").chmod(0o644)
        os.chown(self.tmp / "mail", owner.pw_uid, owner.pw_gid)
        (self.tmp / "dovecot.conf").write_text(
            CONFIG.format(
                tmp=self.tmp,
                imap_port=self.imap_port,
                pop3_port=self.pop3_port,
                uid=owner.pw_uid,
                gid=owner.pw_gid,
                login_user=login,
                internal_user=owner.pw_name,
            )
        )
        self.process = subprocess.Popen(  # noqa: S603 - our binary, our config
            [BINARY, "-F", "-c", str(self.tmp / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.process.stderr.read().decode()}")
            try:
                with socket.create_connection(("127.0.0.1", self.pop3_port), timeout=1):
                    pass
                with socket.create_connection(("127.0.0.1", self.imap_port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("dovecot did not start listening")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def imap(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=10)
        conn.login(USER, PASSWORD)
        return conn

    def append(self, raw: bytes, folder: str = "INBOX"):
        """Deliver a message into ``folder`` (IMAP APPEND), as the mail host would."""
        conn = self.imap()
        try:
            conn.create(folder)  # "already exists" answers NO: fine
            typ, data = conn.append(folder, None, None, raw)
            assert typ == "OK", data
        finally:
            conn.logout()

    def count(self, folder: str = "INBOX") -> int:
        """Messages left in ``folder`` (expunged ones gone)."""
        conn = self.imap()
        try:
            typ, data = conn.select(folder, readonly=True)
            return int(data[0]) if typ == "OK" else 0
        finally:
            conn.logout()


@pytest.fixture(scope="module")
def dovecot_server():
    """A Dovecot serving IMAP and POP3 on loopback for this module's tests."""
    if not os.path.exists(BINARY):
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd dovecot-pop3d)")
    # Not under pytest's own temporary directory: Dovecot's users cannot enter it.
    tmp = tempfile.mkdtemp(prefix="dovecot-")
    server = Dovecot(tmp)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
