"""The classroom server's page and its guards, on a real aiohttp server on loopback (no
browser, no console started): the page links nothing off the server, its addresses follow
the Host the browser used, a session from another origin is refused, --host stays loopback."""

from __future__ import annotations

import shlex
import sys

import pytest
from aiohttp.test_utils import TestClient, TestServer

from screens.web import APP_PY, ClassroomServer, HostError, loopback_host, session_command


@pytest.fixture
async def client():
    server = ClassroomServer("exec false", "127.0.0.1", 8000)
    async with TestClient(TestServer(await server._make_app(), host="127.0.0.1")) as client:
        yield client


async def test_the_page_asks_for_nothing_off_the_server(client):
    response = await client.get("/", headers={"Host": "127.0.0.1:9000"})  # a trainee's forwarded port
    page = await response.text()
    assert response.status == 200
    assert "googleapis" not in page and "https://" not in page
    assert 'href="/static/css/xterm.css"' in page and 'src="/static/js/textual.js"' in page
    assert 'data-session-websocket-url="ws://127.0.0.1:9000/ws"' in page


async def test_a_session_from_another_origin_is_refused(client):
    response = await client.get("/ws", headers={"Origin": "http://example.org", "Host": "127.0.0.1:8000",
                                                "Connection": "Upgrade", "Upgrade": "websocket",
                                                "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "x3JJHMbDL1EzLkh9GBhXDw=="})
    assert response.status == 403


@pytest.mark.parametrize("host", ["evil.example:8000", "192.168.1.20:8000"])
async def test_a_page_reached_by_another_name_is_refused(client, host):
    """DNS rebinding: another site's name pointed at 127.0.0.1, Origin and Host both that name."""
    page = await client.get("/", headers={"Host": host})
    session = await client.get("/ws", headers={"Origin": f"http://{host}", "Host": host,
                                                "Connection": "Upgrade", "Upgrade": "websocket",
                                                "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "x3JJHMbDL1EzLkh9GBhXDw=="})
    assert page.status == 403 and session.status == 403


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.5.1", "::1", "localhost"])
def test_loopback_hosts_are_accepted(host):
    assert loopback_host(host) == host


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "10.0.0.1", "8.8.8.8", "::", "trainer.example"])
def test_other_hosts_are_refused(host):
    with pytest.raises(HostError):
        loopback_host(host)


def test_each_session_is_a_console_on_a_lab_of_its_own(tmp_path):
    words = shlex.split(session_command("auto", tmp_path / "my sessions"))
    assert words == ["exec", sys.executable, str(APP_PY), "--lab", "auto", "--web-session", str(tmp_path / "my sessions")]
