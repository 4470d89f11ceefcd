#!/usr/bin/python3
"""Generates Ferry's man pages -- ferryd(8), ferry(1), ferry.conf(5) -- from one source:
the page texts below (a small markup: '= SECTION', '== Subsection', '- TERM' followed by
its indented description, blank line = new paragraph, `code` = bold) and, for
ferry.conf(5), etc/ferry.conf itself (every key with its comment and default, in order).

    doc/genman.py            rewrite doc/ferryd.8 doc/ferry.1 doc/ferry.conf.5
    doc/genman.py --check    exit 1 if the checked-in pages differ from what it generates

tests/integration/test_man.py runs --check and `man --warnings` on each page."""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERSION = re.search(r"version\s*:\s*'([^']+)'", open(os.path.join(ROOT, "meson.build")).read()).group(1)
DATE = "2026-11-24"

FERRYD = """
= NAME
ferryd - Ferry FTP/FTPS server daemon

= SYNOPSIS
`ferryd` [`-c` FILE] [`--check`]

= DESCRIPTION
ferryd serves FTP (RFC 959 and its extensions), FTPS (explicit AUTH TLS and implicit TLS) and SFTP (version 3 over SSH, [sftp] listen) to virtual users kept in a user store (ferry(1) manages them). It runs in the foreground; started as root it binds its ports, opens its log files and reads its keys, then switches to the service account ([server] run_as) before the first connection is accepted.

= OPTIONS
- `-c`, `--config` FILE
  Configuration file (default /etc/ferry/ferry.conf); see ferry.conf(5).
- `--check`
  Validate the configuration and exit: status 0 and "FILE: OK", or 1 with the file, line and key at fault.
- `-h`, `--help`
  Usage text.
- `-V`, `--version`
  Version, and a second line "features: ..." naming the optional parts built in (gssapi, metrics, hooks, systemd, postgres; meson features). A configuration that asks for a part not built in fails --check with its line.

= SIGNALS
- SIGTERM, SIGINT
  Stop accepting connections; sessions get [server] drain_timeout to finish, then are closed with 421 (SFTP: an SSH disconnect). A session whose upload's commit (fsync, rename) is still running then is closed once it has sent that commit's reply (226, or SFTP's OK for the CLOSE). ferryd exits 0 with "ferryd stopped" when the last session has ended.
- SIGHUP
  Reload the configuration (read as the service user) for new sessions; TLS certificates and [tls] ticket_keys are re-read. Keys marked "after a restart" in ferry.conf(5) keep their running values.
- SIGUSR1
  Reopen [log] xferlog and [log] json by path, after logrotate renamed them.

= SYSTEMD
ferryd reports to systemd with sd_notify(3) when NOTIFY_SOCKET is set: READY=1 once it serves, RELOADING=1 and READY=1 around a SIGHUP reload, STOPPING=1 when SIGTERM starts the drain, and STATUS= lines. packaging/systemd/ferryd.service is a Type=notify unit with systemd's sandboxing (ProtectSystem=strict, ReadWritePaths= for the state, log and served directories, NoNewPrivileges=yes, a capability bounding set of CAP_NET_BIND_SERVICE, CAP_SETUID, CAP_SETGID, and CAP_DAC_OVERRIDE and CAP_CHOWN for the log files and the admin socket it creates as root, all gone after the privilege drop).

With socket activation (packaging/systemd/ferryd.socket, ferryd-ftps.socket, ferryd-sftp.socket) ferryd takes the listening sockets passed in LISTEN_FDS instead of binding [server] listen and [tls] implicit_listen. A socket named "ftps" (FileDescriptorName=ftps) is implicit FTPS; a socket named "sftp" is SFTP, and when one is passed [sftp] listen is not bound; any other name is plain FTP. All worker threads share each passed socket.

Without systemd none of this applies and nothing changes.

= LOGS
Levelled log lines go to stderr or syslog ([log] target). [log] xferlog is the transfer log in the xferlog(5) format of wu-ftpd, ProFTPD and vsftpd; [log] json is an event log of JSON lines. Both are described in ferry.conf(5). packaging/logrotate/ferry rotates them.

= METRICS
With [metrics] listen set, ferryd serves Prometheus text at http://ADDRESS/metrics: ferry_sessions_open{protocol}, ferry_connections_total{protocol}, ferry_logins_total{protocol,result}, ferry_received_bytes_total{protocol}, ferry_sent_bytes_total{protocol}, ferry_transfers_total{protocol,result}, ferry_sessions_evicted_total{protocol}, ferry_bans_total, ferry_bans_active, ferry_passive_ports_in_use, ferry_tls_handshakes_total{result}, ferry_job_queue_depth, ferry_build_info{version}.

= EXIT STATUS
0 after a clean stop; 1 when it cannot start (the reason is logged).

= FILES
- /etc/ferry/ferry.conf
  Configuration.
- /var/lib/ferry/users.db
  The SQLite user store (default [store] sqlite).

= SEE ALSO
ferry(1), ferry.conf(5), xferlog(5), systemd.socket(5), sd_notify(3)
"""

FERRY = """
= NAME
ferry - administer Ferry: users, SSH keys, groups and policy, one-time passwords, principals, bans, the user store, configuration, live sessions

= SYNOPSIS
`ferry` [`-c` FILE] COMMAND [ARGUMENTS]

= DESCRIPTION
ferry manages the user store of ferryd(8) and talks to a running ferryd. Commands that change the store run as the service account ([server] run_as) once the configuration is read.

= COMMANDS
== Users
- `user add` NAME `--home` DIR [`--account` ACCT] [`--perms` LIST] [`--create-home`] [`--disabled`]
  Add a user; the password is read twice from a terminal, or once from standard input.
- `user del` NAME, `user list`, `user show` NAME
  Remove, list, show users.
- `user passwd` NAME, `user enable` NAME, `user disable` NAME
  Change the password; allow or refuse logins.
- `user set` NAME [`--home` DIR [`--create-home`]] [`--account` ACCT | `--no-account`] [`--perms` LIST]
  Change a user's settings. LIST is read, write, delete, rename, mkdir, list or all, comma-separated.
- `--host` HOSTNAME (with any user command above; also otp, totp, quota and principal)
  The user is one of the virtual host HOSTNAME (a [host NAME] section of ferry.conf(5), by its name or an alias), not of the default host: the same name may exist once per host, each with its own password and home. An unknown HOSTNAME is a usage error (status 2). `user list` ends a host user's line with a sixth field host=NAME and with `--host` lists that host's users only; `user show` adds a host: line. In the store the user's name is NAME:HOST. `user import --host` HOSTNAME makes every imported user one of that host (its lines then name the user NAME:HOST).
- `user import` `--format` pureftpd|proftpd|htpasswd FILE [`--home-base` DIR] [`--replace`] [`--create-homes`] [`--perms` LIST] [`--dry-run`] [`--host` HOSTNAME]
  Take the users of another server's user file: a Pure-FTPd pureftpd.passwd, a ProFTPD AuthUserFile (ftpasswd) or an htpasswd file (which has no homes: `--home-base` DIR gives each user DIR/NAME, and overrides the file's homes for the other formats). Each password hash libxcrypt can verify is kept as it is; a legacy or cheap one (md5crypt, sha256crypt, DES, any method but yescrypt, yescrypt below the default cost) becomes a yescrypt hash at the user's next good password login (FTP or SFTP; logged as "password hash upgraded"). Apache's $apr1$ and {SHA}, Argon2 and cleartext are not libxcrypt hashes: such users are not imported. A chroot marker "/./" in a home is where the home ends (a start directory after it is dropped, with a warning); uid, gid, gecos and shell are not imported. Pure-FTPd's limits become the user's policy in the same transaction (printed as "set NAME's policy: ..."): upload and download bandwidth (bytes/s in the file) as `--rate-up` and `--rate-down`, the maximum of concurrent sessions as `--max-sessions`, the files and size quotas (bytes) as `--quota-files` and `--quota-bytes` (a quota of 0, which lets Pure-FTPd accept no upload, is a warning: 0 is no quota in Ferry), the allowed client IPs as `--allow-from` (addresses and CIDR networks; a host name is a warning, and a user whose list has host names only is not imported). Refused client IPs, local IPs, ratios and time restrictions have no Ferry equivalent: a warning per user. A limit that is not a plain number, or that `user set` would refuse, leaves that user out. With `--replace`, those six limits the line leaves empty are removed from the user. A ProFTPD hash locked with a leading "!" makes a disabled user. A user already in the store is not imported unless `--replace` (which sets its hash, home and enabled state, and keeps its permissions, account and one-time passwords unless `--perms`). A missing home is a warning (the user is imported; logins fail until it exists) unless `--create-homes` makes it. `--dry-run` reports the same and changes nothing (the store must exist). Every user not imported gets one line on standard error naming the file, line, user and reason. FILE is read before the privilege drop, the users are written in one transaction. Exit status: 0 every user imported, 1 some were not (or the store failed: then none was), 2 a usage error, an unreadable file or one without a single line of that format.
- `user set` NAME [`--groups` G1,G2] [`--perms` inherit] [`--mount` VPATH=DIR[:PERMS]] [`--unmount` VPATH] [`--dir-perms` VPATH=PERMS] [`--quota-bytes` N] [`--quota-files` N] [`--rate-down` N] [`--rate-up` N] [`--allow-from` CIDR,...] [`--expires` DATE] [`--max-sessions` N]
  Set the user's groups (in order; `none` for no group) and policy. Sizes take K, M or G (powers of 1024), rates are bytes per second with K or M; 0 means no quota, no limit. `--allow-from` takes addresses and CIDR networks (`any`: everywhere); `--expires` YYYY-MM-DD (the last day the account works, UTC), YYYY-MM-DDTHH:MM:SSZ or `never`; `--mount` and `--dir-perms` may be repeated. Every policy option takes `inherit` to drop the user's own value; `--perms inherit` makes the groups' permissions apply before the user's own. `user show` prints the groups, the user's own policy and the effective one. Bad input exits with status 2 and changes nothing.
== Groups
- `group add` NAME, `group del` NAME, `group list`, `group show` NAME
  Add, remove (members lose the group), list groups; show a group's members and policy.
- `group set` NAME [`--perms` LIST] [the policy options of `user set` but `--groups`]
  Set a group's policy. A user's policy comes from the user, then its groups in order, then the server ([limits] and the rest of ferry.conf(5)): the first that sets an attribute wins; mounts and dir-perms are merged by virtual path. ferryd enforces allow-from and expires (refused logins get 530, the log says why), max-sessions (over [limits] max_per_user and [host] max_per_user; the 421 names the limit that applied) and permissions at each login, rates from the login on, quotas on every upload, and shared folders (mounts) and dir-perms on every file operation, FTP and SFTP alike. A group's quota is a limit for each member on its own, not a pool the members share.
== Quotas
- `quota show` NAME [`--host` HOSTNAME]
  The user's effective quota-bytes and quota-files and the usage the store keeps: "bytes: USED used of QUOTA, LEFT left" (or "no quota"), the same for files. The store's figures are every node's commits: uploads (an overwrite counts new minus old), deletes and renames over a file.
- `quota scan` NAME [`--host` HOSTNAME]
  Recount the user's usage from the home on disk (every regular file by size; upload temporaries and kept partials left out) into the store, and show it. Run it once after setting a quota on a user with files, or whenever files changed outside ferry. A running ferryd takes the new figures at the user's next login while none of the user's uploads runs on it. With `--host` (show and scan) NAME is that virtual host's user and a host: line follows the user: line; an unknown HOSTNAME is a usage error (status 2).
== SSH public keys
- `user key add` NAME
  Read one OpenSSH public key line (as in a .pub file: type, base64 key, comment) from standard input and let NAME log in over SFTP with that key. ed25519, ECDSA, security-key and RSA keys of 2048 bits or more are accepted, checked with libssh (a ferry built without SFTP refuses). A bad line, or a key NAME already has, is refused with exit status 2.
- `user key list` NAME
  One line per key, tab-separated: its SHA256 fingerprint (as ssh-keygen -l prints it), type, comment and the date it was added (UTC).
- `user key del` NAME FINGERPRINT
  Remove the key of that fingerprint. A user's keys are removed with the user.
== One-time passwords
- `otp init` NAME [`--alg` md5|sha1] [`--count` N] [`--seed` SEED] [`--reply` 331|336] [`--allow-password`]
  Start an RFC 2289 one-time password sequence.
- `otp show` NAME, `otp set` NAME ..., `otp disable` NAME
  Show, change, end it.
- `totp enable` NAME, `totp disable` NAME
  RFC 6238 time-based codes after the password.
- `--host` HOSTNAME (with any otp or totp command)
  The user of that virtual host, as for the user commands.
== Kerberos principals
- `principal add` PRINCIPAL NAME, `principal del` PRINCIPAL NAME, `principal list` [NAME] [`--host` HOSTNAME]
  Principals allowed to log in as a user after AUTH GSSAPI. With `--host` NAME is that virtual host's user (`list --host` without NAME lists the host's users' mappings); list prints "PRINCIPAL NAME", with a third field host=HOST for a host's user. An unknown HOSTNAME is a usage error (status 2).
== Failed-login bans
- `ban list`
  The client addresses banned now ([limits] ban_failures), one per line: the address (an IPv6 client is its /64), when the ban ends (UTC) and the seconds left. Bans live in the user store, so this is every node's list.
- `ban del` ADDRESS
  Lift the ban of ADDRESS (IPv4 or IPv6; an IPv6 address means its /64) and forget its failed logins and earlier bans; every ferryd using the store lets it in again within a second. Exit status 1 when nothing is recorded for it.
== User store
- `store migrate`
  Bring the configured store's schema to this ferry's version (ferryd and every ferry command do it too when they open the store; two at once are safe) and print the version: "(created)", "(migrated from N)" or "(up to date)".
- `store copy` `--to` CONNINFO [`--force`]
  Copy every user (password hash, home, account, permissions, enabled, timestamps), its one-time password or TOTP settings (with the last used sequence or time step), every Kerberos principal mapping, every SSH key, every group, every user's and group's policy, every user's quota usage and the failed-login bans (table bans: each address's ban, its failed-login count in the current window and its earlier bans, as they are; a row the target has for the same address is replaced, its other rows are kept) from the configured store into the PostgreSQL database CONNINFO (a libpq connection string or URI), in one transaction: all of it or nothing; it prints what it copied, the bans on a line of their own ("copied the failed-login records of N addresses (M banned now)"). The target gets the schema first. A target that already has users is refused unless `--force`, which replaces them with the copy. Then set [store] postgres = CONNINFO (and remove [store] sqlite) on every node.
== Configuration
- `config check`
  Validate the configuration file, as ferryd --check does.
== Running server
- `status`
  One line per live session, FTP and SFTP alike, then a line ".": the session id, user, client address, protocol (ftp, sftp), state (login, idle, transfer), TLS (FTP), seconds since the client's last request, and for a running transfer its command, path, bytes so far and the file size. Needs [admin] socket; access is the socket file's permissions (root, the service user and its group).
- `kick` SESSION
  Close a session (an FTP client gets 421, an SFTP client an SSH disconnect), by the id status shows. Exit status 1 when there is no such session.
- `kick --user` NAME, `kick --ip` ADDRESS
  Close every session of the user (logged in), or from the address as status shows it, whatever its protocol: one line "kicked ID" each. Exit status 1 when there is none.

= OPTIONS
- `-c`, `--config` FILE
  Configuration file (default /etc/ferry/ferry.conf).
- `-h`, `--help`
  Usage text.
- `-V`, `--version`
  Version.

= EXIT STATUS
0 on success, 1 on failure, 2 on a usage error.

= SEE ALSO
ferryd(8), ferry.conf(5)
"""

CONF_HEAD = """
= NAME
ferry.conf - configuration file of the Ferry FTP server

= SYNOPSIS
/etc/ferry/ferry.conf

= DESCRIPTION
ferryd(8) and ferry(1) read this file. The text below is generated from the annotated file shipped as etc/ferry.conf, which lists every key, in order, with its built-in default.
"""

CONF_TAIL = """
= VIRTUAL HOSTS
A section `[host` NAME`]` declares a virtual host: RFC 7151 HOST (before USER) or the TLS server name (SNI) of an FTPS client selects it, and its users are its own (ferry user add NAME `--host` NAME, see ferry(1)). A session that selects none is on the default host, the rest of this file. HOST replies 220 with the host's banner, 504 for a name no section has or one other than the host the SNI named, 501 for a name with a port, 503 after USER or a login (REIN forgets the host). An IP address selects the default host; without any [host] section every name does. SFTP logins are users of the default host. Up to 16 sections; NAME is a host name (letters, digits, '.' and '-'), matched without regard to case. Keys (all optional):

- `aliases` = (empty)
  Further host names, comma-separated, that select this host. No name or alias may belong to two sections.
- `banner` = (empty)
  Text of the 220 reply to HOST (and of the greeting of an implicit FTPS connection whose SNI names the host). Empty: [server] banner.
- `cert` = (empty)
  PEM certificate presented to the clients of this host: when the SNI names it, or when HOST named it before AUTH TLS. Needs `key`, and TLS on ([tls] cert, the default certificate). Empty: the [tls] certificates answer.
- `key` = (empty)
  The private key of `cert`.
- `max_per_user` = 0
  Logged-in sessions per user of this host (the user's further logins get 421); 0: [limits] max_per_user applies.

= SEE ALSO
ferryd(8), ferry(1), xferlog(5)
"""


def esc(text):
    """Roff-escapes plain text; `x` becomes bold."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = re.sub(r"`([^`]+)`", r"\\fB\1\\fR", text)
    return text


def line_safe(text):
    return "\\&" + text if text[:1] in (".", "'") else text


def render(src, name, section, title):
    out = [f'.TH {name.upper()} {section} "{DATE}" "Ferry {VERSION}" "{title}"']
    para = []
    lines = src.strip("\n").splitlines()
    i = 0

    def flush():
        if para:
            out.append(line_safe(esc(" ".join(para))))
            para.clear()
    while i < len(lines):
        l = lines[i]
        if l.startswith("== "):
            flush()
            out.append(".SS " + esc(l[3:]))
        elif l.startswith("= "):
            flush()
            out.append(".SH " + esc(l[2:]))
        elif l.startswith("- "):
            flush()
            out.append(".TP")
            out.append(line_safe(esc(l[2:])))
            desc = []
            while i + 1 < len(lines) and lines[i + 1].startswith("  "):
                i += 1
                desc.append(lines[i].strip())
            out.append(line_safe(esc(" ".join(desc))))
        elif not l.strip():
            flush()
            if out[-1] not in (".PP",) and not out[-1].startswith((".SH", ".SS")):
                out.append(".PP")
        else:
            para.append(l.strip())
        i += 1
    flush()
    return "\n".join(out) + "\n"


def conf_source():
    """etc/ferry.conf -> markup: one '=' section per [section], one '- key' per key with its
    comment block as description."""
    src = [CONF_HEAD.strip("\n"), "", "= SYNTAX"]
    lines = open(os.path.join(ROOT, "etc", "ferry.conf")).read().splitlines()
    i = 0
    # The file's header comment (up to the first section) describes the syntax.
    head = []
    while i < len(lines) and not lines[i].startswith("["):
        l = lines[i]
        if l.startswith("#"):
            head.append(l[1:].strip())
        i += 1
    paras, cur = [], []
    for h in head[1:]:
        if not h:
            if cur:
                paras.append(" ".join(cur))
            cur = []
        elif h == "Syntax":
            continue
        else:
            cur.append(h)
    if cur:
        paras.append(" ".join(cur))
    for p in paras:
        src += [p, ""]
    comment = []
    while i < len(lines):
        l = lines[i].rstrip()
        m = re.fullmatch(r"\[(\w+)\]", l)
        if m:
            src += ["", f"= [{m.group(1)}]"]
            comment = []
        elif l.startswith("#"):
            comment.append(l[1:].strip())
        elif not l.strip():
            if comment and not any(c for c in comment):
                comment = []
        else:
            k, _, v = l.partition("=")
            src.append(f"- `{k.strip()}` = {v.strip() or '(empty)'}")
            src.append("  " + " ".join(c for c in comment if c))
            comment = []
        i += 1
    src += ["", CONF_TAIL.strip("\n")]
    return "\n".join(src)


PAGES = {
    "ferryd.8": (FERRYD, "ferryd", 8, "System Manager's Manual"),
    "ferry.1": (FERRY, "ferry", 1, "User Commands"),
    "ferry.conf.5": (None, "ferry.conf", 5, "File Formats Manual"),
}


def generate():
    out = {}
    for fn, (src, name, sec, title) in PAGES.items():
        out[fn] = render(src if src is not None else conf_source(), name, sec, title)
    return out


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for fn, text in generate().items():
        path = os.path.join(ROOT, "doc", fn)
        old = open(path).read() if os.path.exists(path) else None
        if old != text:
            stale.append(fn)
            if not check:
                with open(path, "w") as f:
                    f.write(text)
    if check and stale:
        print("out of date (run doc/genman.py): " + " ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
