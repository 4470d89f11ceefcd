"""Optional parts chosen by the build (meson features: gssapi, metrics, hooks, systemd, postgres,
sftp).

`ferryd --version` names the parts built in, and the list is true to the binary (it links the
library of each part it names, and no other). A config key that asks for a part the build
leaves out is refused by `ferryd --check` with FILE:LINE; with the part built in the same file
checks OK. Runs against any build: FERRY_BUILD=/tmp/minfeat (all of them disabled) exercises the
stand-ins (src/*_none.c), the default build the real parts."""

import os
import subprocess

import pytest

from conftest import CLI_TIMEOUT, HOST, built_features, free_port

# feature -> (the library ldd shows when it is built in, a config asking for it, the key's line,
#             the refusal when it is not)
PARTS = {
    "gssapi": ("libgssapi_krb5.so", "[gssapi]\nkeytab = /nonexistent/ftp.keytab\n", 5,
               "[gssapi] keytab: ferryd was built without GSSAPI (meson -Dgssapi=disabled)"),
    "metrics": ("libmicrohttpd.so", f"[metrics]\nlisten = {HOST}:9\n", 5,
                "[metrics] listen: ferryd was built without the metrics endpoint (meson -Dmetrics=disabled)"),
    "hooks": ("libcurl.so", "[hooks]\nupload_exec = /bin/true\nupload_url = http://127.0.0.1:9/x\n", 6,
              "[hooks] upload_url: ferryd was built without HTTP hooks (meson -Dhooks=disabled); "
              "upload_exec works"),
    "systemd": ("libsystemd.so", None, None, None),
    "postgres": ("libpq.so", "[store]\npostgres = host=127.0.0.1 dbname=ferry\n", 5,
                 "[store] postgres: this ferry was built without PostgreSQL support (meson -Dpostgres=disabled)"),
    "sftp": ("libssh.so", f"[sftp]\nlisten = {HOST}:9\n", 5,
             "[sftp] listen: ferryd was built without SFTP (meson -Dsftp=disabled)"),
}


def test_version_names_the_parts_the_binary_links(ferry_bin):
    out = subprocess.run([ferry_bin.ferryd, "--version"], capture_output=True, text=True,
                         timeout=CLI_TIMEOUT, check=True).stdout.splitlines()
    assert out[0].startswith("ferryd ") and out[1].startswith("features:"), out
    built = built_features(ferry_bin)
    assert built <= set(PARTS), built
    # The libraries ferryd itself needs (not ldd's closure: libpq brings libgssapi_krb5 along).
    libs = subprocess.run(["readelf", "-d", ferry_bin.ferryd], capture_output=True, text=True,
                          timeout=CLI_TIMEOUT, check=True).stdout
    for name, (lib, *_rest) in PARTS.items():
        assert (lib in libs) == (name in built), (name, lib, libs)


@pytest.mark.parametrize("name", [n for n, p in PARTS.items() if p[1]])
def test_check_refuses_keys_of_parts_not_built_in(ferry_env, name):
    _lib, text, line, refusal = PARTS[name]
    env = ferry_env()
    path = env.write_config(text=f"[server]\nlisten = {HOST}:{free_port()}\n\n{text}")
    cp = subprocess.run([env.bins.ferryd, "--check", "-c", path], capture_output=True, text=True,
                        timeout=CLI_TIMEOUT)
    if name in built_features(env.bins):
        assert (cp.returncode, cp.stdout, cp.stderr) == (0, f"{path}: OK\n", "")
    else:
        assert (cp.returncode, cp.stdout, cp.stderr) == (1, "", f"ferryd: {path}:{line}: {refusal}\n")


def test_upload_exec_alone_needs_no_http_hooks(ferry_env):
    env = ferry_env()
    path = env.write_config(text=f"[server]\nlisten = {HOST}:{free_port()}\n\n[hooks]\nupload_exec = /bin/true\n")
    cp = subprocess.run([env.bins.ferryd, "--check", "-c", path], capture_output=True, text=True,
                        timeout=CLI_TIMEOUT)
    assert (cp.returncode, cp.stdout, cp.stderr) == (0, f"{path}: OK\n", "")


def test_socket_activation_refused_without_systemd(make_server, ferry_bin):
    if "systemd" in built_features(ferry_bin):
        pytest.skip("ferryd built with systemd: test_systemd.py covers socket activation")
    # LISTEN_PID names ferryd itself (sh execs it, keeping its pid): sockets were "passed",
    # and a build that cannot take them must say so instead of binding [server] listen.
    wrapper = ["sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"']
    s = make_server(wrapper=wrapper, start=False)
    s.start(wait_greeting=False)
    assert s.wait_exit(10) == 1
    assert "built without systemd support (meson -Dsystemd=disabled)" in s.log()

