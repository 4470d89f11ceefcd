"""Listening sockets (issue 13, item 18): a second ferryd on an address another one serves
must refuse to start with "address in use", not share the port (SO_REUSEPORT across
processes would make two daemons with different configurations answer at random); the
workers of one daemon still share each listening socket."""

import pytest

from conftest import Ctl, HOST, free_port


def test_second_daemon_on_same_address_refuses_to_start(make_server):
    port = free_port()
    first = make_server(listen=f"{HOST}:{port}", config={"server": {"workers": "4",
                                                                  "banner": "first"}})
    second = make_server(listen=f"{HOST}:{port}", config={"server": {"banner": "second"}},
                         start=False)
    second.start(wait_greeting=False)
    rc = second.wait_exit(10)
    assert rc is not None and rc != 0, f"second ferryd still running:\n{second.log()[-2000:]}"
    assert f"listen {HOST}:{port}: Address already in use" in second.log(), second.log()[-2000:]
    # The first one still serves every connection (four workers share the one socket).
    for _ in range(40):
        c = Ctl(HOST, port)
        assert c.greeting.code == 220 and "first" in c.greeting.text, c.greeting
        c.login()
        c.expect("QUIT", 221)
        c.close()


def test_second_address_in_use_fails_the_whole_start(make_server):
    """The conflict on a later address of [server] listen fails the start too."""
    p1, p2 = free_port(), free_port()
    make_server(listen=f"{HOST}:{p2}")
    s = make_server(listen=f"{HOST}:{p1}, {HOST}:{p2}", start=False)
    s.start(wait_greeting=False)
    rc = s.wait_exit(10)
    assert rc is not None and rc != 0, s.log()[-2000:]
    assert f"listen {HOST}:{p2}: Address already in use" in s.log(), s.log()[-2000:]
