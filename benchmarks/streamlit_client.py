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
in its delta; a rerun that names it runs only that fragment, as a browser does.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.Common_pb2 import DoubleArray
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect

WIDGET_ID_PREFIX = "$$ID-"
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
        """time.perf_counter() when the first image element arrived, or None."""
        images = self.of_kind("imgs")
        return images[0].received if images else None

    def widget(self, key: str) -> Element | None:
        return next((e for e in reversed(self.elements) if e.key == key), None)


class StreamlitSession:
    """One app session on an open websocket. Methods run one request at a time."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.page_name = ""
        self.page_script_hash = ""  # known after the first run (the navigation message)
        self.widgets: dict[str, Element] = {}  # key -> the latest element drawn for it
        self.auto_reruns: dict[str, float] = {}  # fragment id -> seconds (st.fragment(run_every))

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, ws_url: str, timeout: float = 10.0) -> AsyncIterator[StreamlitSession]:
        """Open a session (max_size=None: a chart's delta can exceed websockets' 1 MiB default)."""
        async with connect(
            ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=timeout
        ) as ws:
            yield cls(ws)

    async def open_page(
        self,
        url_pathname: str = "",
        until: Callable[[RunResult], bool] | None = None,
        timeout: float = 60.0,
    ) -> RunResult:
        """Open a page by its URL path ("" for the default page), as a browser does on load.

        until: keep going until this holds for a run's result, following the page's
        auto-reruns (a polling fragment) or else rerunning the page every second.
        """
        self.page_name, self.page_script_hash = url_pathname, ""
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
            fragment_id=fragment_id,
            is_auto_rerun=is_auto_rerun,
        )
        state.widget_states.widgets.extend(widget_states or [])
        message = BackMsg()
        message.rerun_script.CopyFrom(state)
        result = RunResult(sent=time.perf_counter())
        await self.ws.send(message.SerializeToString())
        async with asyncio.timeout(timeout):
            while result.status not in RUN_ENDS:
                self._handle(ForwardMsg.FromString(await self.ws.recv()), result)
        return result

    async def set_slider(self, key: str, value: float, timeout: float = 60.0) -> RunResult:
        """Move the slider with this key to value, as releasing it in the browser does: only its
        fragment reruns when it is drawn in one."""
        slider = self.widgets[key]
        state = slider_state(slider.proto.id, value)
        return await self.rerun([state], fragment_id=slider.fragment_id, timeout=timeout)

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
        elif kind == "new_session" and not msg.metadata.run.fragment_ids:
            self.auto_reruns.clear()  # a full run: the page re-declares its polling fragments
        elif kind == "auto_rerun":
            self.auto_reruns[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            for fragment_id in msg.stop_auto_rerun.fragment_ids or list(self.auto_reruns):
                self.auto_reruns.pop(fragment_id, None)
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
