"""A small Streamlit client: one browser session over the websocket, without a browser.

Streamlit 1.67 talks protobuf over ws://<host>/_stcore/stream (subprotocol "streamlit"). A browser
sends `BackMsg.rerun_script` with a `ClientState` (which page, the widgets' values, the fragment to
rerun); the server answers with `ForwardMsg`s: new_session, navigation, one delta per element of
the page, ..., and `script_finished`. This client does the same, so a benchmark can run many
sessions from one process and see exactly what the app sends back.

Pages under `st.navigation` are addressed like the browser does: the first run names the page by
its URL path (`page_name`, "" for the default page); the server's `navigation` message then says
the page's `page_script_hash`, which every later rerun sends. Widgets are found by their `key`:
the element's id is "$$ID-<hash>-<key>". A widget inside an `st.fragment` carries the fragment's id
in its delta; a rerun that names it runs only that fragment, as a browser does. A custom component
(`st.components.v2`) is found by its key too; `trigger` sends one of its events, as its JavaScript's
`setTriggerValue(event, value)` does in a browser.

Like a browser, the client keeps the large elements it has received (`metadata.cacheable`) and
names them in every rerun request (`ClientState.cached_message_hashes`): the server then re-sends
an unchanged one as a reference to its hash (`ref_hash`), which the client resolves.

With XSRF protection on (Streamlit's default), a browser first gets the `_streamlit_xsrf` cookie
from an HTTP answer (/_stcore/health), then sends it as a cookie and as the second websocket
subprotocol; an upload is a `file_urls_request` over the websocket, an HTTP PUT (multipart form)
to the URL it answers with, carrying the cookie and the same token as `X-Xsrftoken`, then a rerun
with the file_uploader's state naming the file. `xsrf_cookie`, `connect(xsrf=...)` and `upload`
do the same; the app reads the cookie as its owner id (explorer/ui/state.py: owner).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.Common_pb2 import (
    DoubleArray,
    FileUploaderState,
    FileURLs,
    FileURLsRequest,
    UploadedFileInfo,
)
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect

WIDGET_ID_PREFIX = "$$ID-"
# A v2 component's events travel in one widget, named after the component's element id.
TRIGGER_ID = "$$STREAMLIT_INTERNAL_KEY_{id}__events"
# The app's components (explorer/ui/click.py): the click listener and, with decoding in the
# browser, the decoder weights and the live decode panel.
APP_COMPONENT = "latent_explorer"
XSRF_COOKIE = "_streamlit_xsrf"
# A run ends with one of these; FINISHED_EARLY_FOR_RERUN means another run follows at once.
RUN_ENDS = {
    ForwardMsg.FINISHED_SUCCESSFULLY,
    ForwardMsg.FINISHED_WITH_COMPILE_ERROR,
    ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
}


@dataclass
class Element:
    """One element a run sent: its kind ("slider", "imgs", ...), its own proto message, the
    fragment it was drawn in ("" outside any) and when it arrived (time.perf_counter())."""

    kind: str
    proto: Any
    fragment_id: str
    received: float

    @property
    def key(self) -> str | None:
        """The widget's user key, or None for an element that is not a keyed widget."""
        element_id = getattr(self.proto, "id", "")
        if not element_id.startswith(WIDGET_ID_PREFIX):
            return None
        return element_id.split("-", 2)[2]

    @property
    def component_data(self) -> Any:
        """A custom component's data: parsed JSON, bytes, or None (also for other elements)."""
        if self.kind != "bidi_component":
            return None
        which = self.proto.WhichOneof("data")
        if which == "json":
            return json.loads(self.proto.json)
        return self.proto.bytes if which == "bytes" else None


@dataclass
class RunResult:
    """What one rerun request brought back, up to the script_finished that ended it (runs chained
    by st.rerun() count as one). problems: exceptions, st.error alerts, page-not-found."""

    sent: float
    finished: float | None = None
    status: int | None = None
    elements: list[Element] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.finished - self.sent

    def of_kind(self, kind: str) -> list[Element]:
        return [e for e in self.elements if e.kind == kind]

    @property
    def image_urls(self) -> list[str]:
        return [img.url for e in self.of_kind("imgs") for img in e.proto.imgs]

    @property
    def first_image_at(self) -> float | None:
        """time.perf_counter() when the decode panel could first show an image, or None: the
        first image element (decoding on the server), or, with decoding in the browser, when
        both the decoder weights (an app component carrying bytes) and the live panel (an app
        component whose data holds "live") had arrived."""
        times = [e.received for e in self.of_kind("imgs")[:1]]
        ours = [
            (e.received, e.component_data)
            for e in self.of_kind("bidi_component")
            if APP_COMPONENT in e.proto.component_name
        ]
        weights = [at for at, data in ours if isinstance(data, bytes)]
        panel = [at for at, data in ours if isinstance(data, dict) and data.get("live")]
        if weights and panel:
            times.append(max(weights[0], panel[0]))
        return min(times, default=None)

    def widget(self, key: str) -> Element | None:
        return next((e for e in reversed(self.elements) if e.key == key), None)

    def find(self, kind: str, label: str) -> Element | None:
        """The last element of this kind with this label (an unkeyed widget: a form's button)."""
        return next((e for e in reversed(self.of_kind(kind)) if e.proto.label == label), None)


class StreamlitSession:
    """One app session on an open websocket. Methods run one request at a time."""

    def __init__(self, ws: ClientConnection, http_url: str = "", xsrf: str = "") -> None:
        self.ws, self.http_url, self.xsrf = ws, http_url, xsrf
        self.session_id = ""  # the server's id for this session (new_session), for uploads
        self.file_urls: dict[str, FileURLs] = {}  # request id -> where to PUT that file
        self.page_name = ""
        self.query_string = ""  # the address's query string, without "?" ("lesson=1")
        self.page_script_hash = ""  # known after the first run (the navigation message)
        self.widgets: dict[str, Element] = {}  # key -> the latest element drawn for it
        self.auto_reruns: dict[str, float] = {}  # fragment id -> seconds (st.fragment(run_every))
        self.cached: dict[str, ForwardMsg] = {}  # hash -> a large element received, as a browser

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls, ws_url: str, timeout: float = 10.0, xsrf: str = ""
    ) -> AsyncIterator[StreamlitSession]:
        """Open a session (max_size=None: a chart's delta can exceed websockets' 1 MiB default).
        xsrf: the browser's XSRF cookie (xsrf_cookie), sent as a browser does; "" sends none."""
        http_url = re.sub(r"^ws", "http", ws_url).removesuffix("/_stcore/stream")
        protocols, headers = ["streamlit"], {}
        if xsrf:
            protocols.append(xsrf)
            headers = {"Cookie": f"{XSRF_COOKIE}={xsrf}", "Origin": http_url}
        async with connect(
            ws_url,
            subprotocols=protocols,
            additional_headers=headers,
            max_size=None,
            open_timeout=timeout,
        ) as ws:
            yield cls(ws, http_url, xsrf)

    async def open_page(
        self,
        url_pathname: str = "",
        until: Callable[[RunResult], bool] | None = None,
        timeout: float = 60.0,
        query: str = "",
    ) -> RunResult:
        """Open a page by its URL path ("" for the default page), as a browser does on load;
        query: the address's query string, without "?" ("lesson=1"), sent with every rerun.

        until: keep going until this holds for a run's result, following the page's
        auto-reruns (a polling fragment) or else rerunning the page every second.
        """
        self.page_name, self.page_script_hash, self.query_string = url_pathname, "", query
        async with asyncio.timeout(timeout):
            result = await self.rerun()
            while until is not None and not until(result):
                result = await self.poll()
        return result

    async def rerun(
        self,
        widget_states: list[WidgetState] | None = None,
        fragment_id: str = "",
        is_auto_rerun: bool = False,
        timeout: float = 60.0,
    ) -> RunResult:
        """Send one rerun request and collect what comes back until the run ends.

        Raises TimeoutError after timeout seconds, websockets.ConnectionClosed on a disconnect.
        """
        state = ClientState(
            page_script_hash=self.page_script_hash,
            page_name="" if self.page_script_hash else self.page_name,
            query_string=self.query_string,
            fragment_id=fragment_id,
            is_auto_rerun=is_auto_rerun,
        )
        state.widget_states.widgets.extend(widget_states or [])
        state.cached_message_hashes.extend(self.cached)
        message = BackMsg()
        message.rerun_script.CopyFrom(state)
        result = RunResult(sent=time.perf_counter())
        await self.ws.send(message.SerializeToString())
        async with asyncio.timeout(timeout):
            while result.status not in RUN_ENDS:
                self._handle(await self._receive(), result)
        return result

    async def _receive(self) -> ForwardMsg:
        """The next ForwardMsg, a reference to a cached element replaced by that element."""
        msg = ForwardMsg.FromString(await self.ws.recv())
        if msg.WhichOneof("type") == "ref_hash":
            cached = ForwardMsg()
            cached.CopyFrom(self.cached[msg.ref_hash])
            cached.metadata.CopyFrom(msg.metadata)
            return cached
        if msg.metadata.cacheable:
            self.cached[msg.hash] = msg
        return msg

    async def listen(self, seconds: float) -> int:
        """Send nothing for `seconds` (a user hovering, reading); how many messages came, not
        counting the status that ends the previous run ("not running", sent after its
        script_finished)."""
        count = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    msg = await self._receive()
                    self._handle(msg, RunResult(sent=time.perf_counter()))
                    idle = msg.WhichOneof("type") == "session_status_changed" and not (
                        msg.session_status_changed.script_is_running
                    )
                    count += not idle
        return count

    async def trigger(self, key: str, event: str, value: Any, timeout: float = 60.0) -> RunResult:
        """Send event with value from the custom component with this key, as its JavaScript's
        `setTriggerValue(event, value)` does: only its fragment reruns when it is in one."""
        component = self.widgets[key]
        state = WidgetState(
            id=TRIGGER_ID.format(id=component.proto.id),
            json_trigger_value=json.dumps([{"event": event, "value": value}]),
        )
        return await self.rerun([state], fragment_id=component.fragment_id, timeout=timeout)

    async def set_slider(self, key: str, value: float, timeout: float = 60.0) -> RunResult:
        """Move the slider with this key to value, as releasing it in the browser does: only its
        fragment reruns when it is drawn in one."""
        slider = self.widgets[key]
        state = slider_state(slider.proto.id, value)
        return await self.rerun([state], fragment_id=slider.fragment_id, timeout=timeout)

    async def click_button(self, key: str, timeout: float = 60.0) -> RunResult:
        """Click the st.button with this key (its fragment alone reruns when it is in one)."""
        button = self.widgets[key]
        state = trigger_state(button.proto.id)
        return await self.rerun([state], button.fragment_id, timeout=timeout)

    async def choose(self, key: str, option: str, timeout: float = 60.0) -> RunResult:
        """Pick an option of the st.radio or st.selectbox with this key, by its shown label."""
        widget = self.widgets[key]
        state = string_state(widget.proto.id, option)
        return await self.rerun([state], widget.fragment_id, timeout=timeout)

    async def upload(
        self, key: str, name: str, data: bytes, mime: str, timeout: float = 60.0
    ) -> RunResult:
        """Upload one file to the st.file_uploader with this key, as a browser does: ask for its
        URL over the websocket, PUT it over HTTP, rerun with the uploader naming it. Raises
        urllib.error.HTTPError if the server refuses the PUT (403: a bad XSRF token)."""
        uploader = self.widgets[key]
        request_id = secrets.token_hex(8)
        message = BackMsg()
        message.file_urls_request.CopyFrom(
            FileURLsRequest(request_id=request_id, file_names=[name], session_id=self.session_id)
        )
        async with asyncio.timeout(timeout):
            await self.ws.send(message.SerializeToString())
            while request_id not in self.file_urls:
                self._handle(await self._receive(), RunResult(sent=time.perf_counter()))
            urls = self.file_urls.pop(request_id)
            await asyncio.to_thread(self._put, urls.upload_url, name, data, mime)
        info = UploadedFileInfo(name=name, size=len(data), file_id=urls.file_id, file_urls=urls)
        state = WidgetState(id=uploader.proto.id)
        state.file_uploader_state_value.CopyFrom(FileUploaderState(uploaded_file_info=[info]))
        return await self.rerun([state], uploader.fragment_id, timeout=timeout)

    def _put(self, url: str, name: str, data: bytes, mime: str) -> None:
        body, content_type = multipart_body(name, data, mime)
        headers = {"Content-Type": content_type}
        if self.xsrf:
            headers |= {"Cookie": f"{XSRF_COOKIE}={self.xsrf}", "X-Xsrftoken": self.xsrf}
        url = url if url.startswith("http") else self.http_url + url
        request = urllib.request.Request(url, body, headers, method="PUT")
        with urllib.request.urlopen(request, timeout=30):
            pass

    async def poll(self) -> RunResult:
        """Wait, then rerun: the page's polling fragment after its interval, as an open browser
        does, if the page has one; else the whole page after a second, as a user would."""
        if self.auto_reruns:
            fragment_id, interval = next(iter(self.auto_reruns.items()))
            await asyncio.sleep(interval)
            return await self.rerun(fragment_id=fragment_id, is_auto_rerun=True)
        await asyncio.sleep(1.0)
        return await self.rerun()

    def _handle(self, msg: ForwardMsg, result: RunResult) -> None:
        kind = msg.WhichOneof("type")
        if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self._on_element(msg, result)
        elif kind == "navigation":
            self.page_script_hash = msg.navigation.page_script_hash
        elif kind == "new_session":
            if msg.new_session.initialize.session_id:
                self.session_id = msg.new_session.initialize.session_id
            if not msg.metadata.run.fragment_ids:
                self.auto_reruns.clear()  # a full run: the page re-declares its polling fragments
        elif kind == "file_urls_response":
            response = msg.file_urls_response
            if response.error_msg or not response.file_urls:
                raise RuntimeError(f"no upload URL: {response.error_msg!r}")
            self.file_urls[response.response_id] = response.file_urls[0]
        elif kind == "auto_rerun":
            self.auto_reruns[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            for fragment_id in msg.stop_auto_rerun.fragment_ids or list(self.auto_reruns):
                self.auto_reruns.pop(fragment_id, None)
        elif kind == "page_info_changed":  # the app set st.query_params: the address changes
            self.query_string = msg.page_info_changed.query_string
        elif kind == "page_not_found":
            result.problems.append(f"page not found: {msg.page_not_found.page_name!r}")
        elif kind == "script_finished":
            result.status, result.finished = msg.script_finished, time.perf_counter()

    def _on_element(self, msg: ForwardMsg, result: RunResult) -> None:
        new = msg.delta.new_element
        kind = new.WhichOneof("type")
        element = Element(kind, getattr(new, kind), msg.delta.fragment_id, time.perf_counter())
        result.elements.append(element)
        if element.key is not None:
            self.widgets[element.key] = element
        if kind == "exception":
            result.problems.append(f"exception {element.proto.type}: {element.proto.message}")
        elif kind == "alert" and element.proto.format == Alert.ERROR:
            result.problems.append(f"st.error: {element.proto.body}")


def slider_state(widget_id: str, value: float) -> WidgetState:
    """The WidgetState a browser sends for a one-value st.slider."""
    return WidgetState(id=widget_id, double_array_value=DoubleArray(data=[value]))


def trigger_state(widget_id: str) -> WidgetState:
    """The WidgetState a browser sends for a click on a button (a form's submit button too)."""
    return WidgetState(id=widget_id, trigger_value=True)


def string_state(widget_id: str, value: str) -> WidgetState:
    """The WidgetState of a text input, or a radio's or selectbox's chosen label."""
    return WidgetState(id=widget_id, string_value=value)


def multipart_body(name: str, data: bytes, mime: str) -> tuple[bytes, str]:
    """(body, Content-Type) of a multipart form holding one file, as a browser's FormData."""
    boundary = f"----soak{secrets.token_hex(12)}"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"'
        f"\r\nContent-Type: {mime}\r\n\r\n"
    )
    body = head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def xsrf_cookie(http_url: str, timeout: float = 10.0) -> str:
    """A fresh browser's XSRF cookie, from the server's answer to /_stcore/health ("" when
    XSRF protection is off). Blocking: call it in a thread from asyncio."""
    with urllib.request.urlopen(f"{http_url}/_stcore/health", timeout=timeout) as response:
        cookies = response.headers.get_all("Set-Cookie") or []
    found = (re.match(rf"{XSRF_COOKIE}=([^;]+)", c) for c in cookies)
    return next((m.group(1).strip('"') for m in found if m), "")
