"""The Studio's ASGI app (Starlette): pages, the JSON they poll, and the actions they post.

Every handler is a plain function: Starlette runs it in its thread pool, so a slow read
(a listing, a comparison's plots) never holds up another request, and nothing here waits
for an execution. Pages are Jinja2 templates with autoescaping on (display names, parameter
values, logs and failure reasons are data, never markup); the script and stylesheet are
files of this package (pipeline/ui/static), so the UI makes no request beyond this server.
The :class:`~pipeline.ui.security.Guard` wraps it all.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from pipeline.core.errors import MoonpipeError
from pipeline.core.records import ExecutionSummary
from pipeline.core.refs import execution_id
from pipeline.ui import views
from pipeline.ui.security import Guard, csrf_of
from pipeline.ui.studio import Studio

HERE = Path(__file__).parent
REPORT_TEMPLATES = HERE.parent / "report" / "templates"
MAX_INVOKE_BYTES = 64_000


@functools.cache
def environment() -> Any:
    """The UI's templates (and the report's graph, shared), autoescaped."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [jinja2.FileSystemLoader(HERE / "templates"), jinja2.FileSystemLoader(REPORT_TEMPLATES)]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class Pages:
    """The handlers, over one :class:`Studio`."""

    def __init__(self, studio: Studio, token: str) -> None:
        self.studio, self.target = studio, studio.target
        self.csrf = csrf_of(token)
        self._plots_lock = threading.Lock()
        self._plots: dict[tuple[str, ...], dict[str, str | None]] = {}
        self._writer: Any = None
        self._graphs: dict[str, Any] = {}

    def page(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = (
            environment()
            .get_template(template)
            .render(csrf=self.csrf, pipeline=self.studio.pipeline_name, **values)
        )
        return HTMLResponse(html, status_code=status)

    # -- executions ------------------------------------------------------------------------

    def executions(self, request: Request) -> Response:
        declared = self.studio.declared()
        rows = self._rows(declared)
        return self.page(
            "executions.html.j2",
            rows=rows,
            groups=views.sweep_groups(rows),
            fields=views.parameter_form(declared),
            metrics=views.KEY_METRICS,
        )

    def executions_json(self, request: Request) -> Response:
        rows = self._rows(self.studio.declared())
        return JSONResponse({"rows": rows, "groups": views.sweep_groups(rows)})

    def _rows(self, declared: list[dict[str, Any]]) -> list[dict[str, Any]]:
        defaults = {p["Name"]: p.get("DefaultValue") for p in declared}
        return [views.execution_row(s, defaults) for s in self.studio.executions()]

    def start(self, request: Request) -> Response:
        form = _json_body(request)
        values = {str(k): str(v) for k, v in (form.get("parameters") or {}).items()}
        try:
            arn = self.studio.start(values, form.get("from_step") or None, form.get("source"))
        except MoonpipeError as err:
            names = [p["Name"] for p in self.studio.declared()]
            field = views.field_of(str(err), names)
            return refused(str(err), field=field)
        return JSONResponse({"execution_id": execution_id(arn), "execution_arn": arn})

    def sweep(self, request: Request) -> Response:
        form = _json_body(request)
        axes = [a.strip() for a in str(form.get("axes", "")).split(";") if a.strip()]
        params = [p.strip() for p in str(form.get("params", "")).split(";") if p.strip()]
        if not axes:
            return refused("give an axis such as HiddenDim=8,16,32")
        return _acted(lambda: {"points": self.studio.sweep(axes, params)})

    # -- one execution ---------------------------------------------------------------------

    def execution(self, request: Request) -> Response:
        ref = request.path_params["execution"]
        facts = self.target.execution_facts(ref)
        summary = self.target.describe_execution(ref)
        from pipeline.report.graph import layout_definition
        from pipeline.report.report_model import build_report

        report = build_report(facts)
        return self.page(
            "execution.html.j2",
            r=report,
            g=layout_definition(facts.definition),
            steps={s.name: s for s in report.steps},
            clickable=True,
            summary=summary,
            parameters=views.parameters_view(facts),
            lineage=views.lineage(facts),
            selected=request.query_params.get("step", ""),
        )

    def state(self, request: Request) -> Response:
        ref = request.path_params["execution"]
        summary = self.target.describe_execution(ref)
        return JSONResponse(views.execution_state(self._graph(summary.execution_id), summary))

    def _graph(self, execution: str) -> Any:
        """The execution's parsed definition (read once: it never changes)."""
        if execution not in self._graphs:
            from pipeline.local.graph import parse_definition

            definition = self.target.execution_facts(execution).definition
            self._graphs[execution] = parse_definition(definition)
        return self._graphs[execution]

    def step(self, request: Request) -> Response:
        ref, name = request.path_params["execution"], request.path_params["step"]
        facts = self.target.execution_facts(ref)
        summary = self.target.describe_execution(ref)
        try:
            panel = views.step_panel(facts, summary, name)
        except KeyError:
            return JSONResponse({"error": f"no step {name} in execution {ref}"}, 404)
        return self.page("step.html.j2", s=panel, execution=summary.execution_id)

    def log(self, request: Request) -> Response:
        ref, name = request.path_params["execution"], request.path_params["step"]
        offset = _int(request.query_params.get("offset"), 0)
        log = self.target.step_log(ref, name, offset)
        return JSONResponse(
            {
                "text": log.text,
                "offset": offset + len(log.text),
                "complete": log.complete,
                "note": log.note,
            }
        )

    def stop(self, request: Request) -> Response:
        ref = request.path_params["execution"]
        return _acted(lambda: _status(self.studio.stop(ref)))

    def retry(self, request: Request) -> Response:
        ref = request.path_params["execution"]
        return _acted(lambda: {"execution_id": execution_id(self.studio.retry(ref))})

    def rerun(self, request: Request) -> Response:
        ref = request.path_params["execution"]
        form = _json_body(request)
        summary = self.target.describe_execution(ref)
        values = {k: str(v) for k, v in summary.parameters.items()}
        step = str(form.get("step", ""))
        return _acted(lambda: {"execution_id": execution_id(self.studio.start(values, step, ref))})

    # -- compare ---------------------------------------------------------------------------

    def compare(self, request: Request) -> Response:
        ids = _ids(request)
        if len(ids) < 2:
            return self.page(
                "message.html.j2", 400, message="pick two or more executions to compare"
            )
        from pipeline.report.compare import compare

        reports = [self._report_writer().model(i) for i in ids]
        from pipeline.report.compare_plots import COMPARISON_PLOTS

        return self.page(
            "compare.html.j2",
            c=compare(reports),
            ids=ids,
            plots=COMPARISON_PLOTS,
            query=",".join(ids),
        )

    def plot(self, request: Request) -> Response:
        ids, kind = _ids(request), request.path_params["kind"]
        figures = self._comparison_figures(tuple(ids))
        src = figures.get(kind)
        if src is None:
            note = figures.get(f"{kind}:note") or "no such plot"
            return Response(note, 404, media_type="text/plain")
        import base64

        return Response(base64.b64decode(src.split(",", 1)[1]), media_type="image/png")

    def _comparison_figures(self, ids: tuple[str, ...]) -> dict[str, str | None]:
        with self._plots_lock:  # the page's five pictures are drawn once, together
            if ids not in self._plots:
                from pipeline.report.compare_plots import comparison_figures

                writer = self._report_writer()
                reports = [writer.model(i) for i in ids]
                drawn = comparison_figures(reports, [writer.plot_data(i) for i in ids])
                found: dict[str, str | None] = {}
                for figure in drawn:
                    found[figure.kind] = figure.src
                    found[f"{figure.kind}:note"] = figure.note
                self._plots[ids] = found
            return self._plots[ids]

    def _report_writer(self) -> Any:
        if self._writer is None:
            from pipeline.report.write import ReportWriter

            self._writer = ReportWriter(self.target)
        return self._writer

    # -- registry and endpoints ------------------------------------------------------------

    def registry(self, request: Request) -> Response:
        packages = [views.package_view(p) for p in self.target.list_model_packages()]
        endpoints = self.target.list_endpoints()
        serving = {e: p for p in packages for e in p["endpoints"]}
        return self.page(
            "registry.html.j2", packages=packages, endpoints=endpoints, serving=serving
        )

    def approve(self, request: Request) -> Response:
        form = _json_body(request)
        arn, status = str(form.get("arn", "")), str(form.get("status", ""))
        return _acted(lambda: views.package_view(self.target.update_model_package(arn, status)))

    def deploy(self, request: Request) -> Response:
        form = _json_body(request)
        arn, endpoint = str(form.get("arn", "")), str(form.get("endpoint", "")).strip()
        if not endpoint:
            return refused("give the endpoint's name")
        return _acted(lambda: _endpoint(self.target.deploy_model_package(arn, endpoint)))

    def invoke(self, request: Request) -> Response:
        name = request.path_params["endpoint"]
        body = str(_json_body(request).get("body", "")).encode()
        if len(body) > MAX_INVOKE_BYTES:
            return refused("a few rows only from here (64 kB at most)")
        return _acted(
            lambda: {
                "text": self.target.invoke_endpoint(name, body, "text/csv", "text/csv").decode(
                    errors="replace"
                )
            }
        )


def _acted(action: Callable[[], dict[str, Any]]) -> Response:
    """The action's JSON, or its refusal as ``{"error": ...}``."""
    try:
        return JSONResponse(action())
    except MoonpipeError as err:
        return refused(str(err))


def refused(reason: str, **more: Any) -> Response:
    """An action the target (or the gate) refused: said in place on the page. HTTP 200, as
    the request itself was fine and answered (a 4xx would be a console error in the
    browser for what is an ordinary answer); ``error`` carries the one-line reason."""
    return JSONResponse({"error": reason, **more})


def _status(summary: ExecutionSummary) -> dict[str, Any]:
    return {"execution_id": summary.execution_id, "status": str(summary.status)}


def _endpoint(ref: Any) -> dict[str, Any]:
    return {"name": ref.name, "url": ref.url, "status": ref.status}


def _json_body(request: Request) -> dict[str, Any]:
    """The posted JSON object (read in the handler's thread)."""
    import json

    import anyio.from_thread

    raw = anyio.from_thread.run(request.body)
    try:
        found = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _ids(request: Request) -> list[str]:
    raw = request.query_params.get("ids", "")
    return list(dict.fromkeys(i.strip() for i in raw.split(",") if i.strip()))


def _int(text: str | None, default: int) -> int:
    try:
        return max(0, int(text or default))
    except ValueError:
        return default


def make_app(studio: Studio, token: str, port: int) -> Guard:
    """The guarded app serving ``studio``."""
    pages = Pages(studio, token)

    def handled(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        @functools.wraps(handler)
        def handling(request: Request) -> Response:
            try:
                return handler(request)
            except MoonpipeError as err:
                if request.url.path.startswith("/api/"):
                    return refused(str(err))
                return pages.page("message.html.j2", 404, message=str(err))

        return handling

    routes = [
        Route("/", handled(pages.executions)),
        Route("/api/executions", handled(pages.executions_json)),
        Route("/api/start", handled(pages.start), methods=["POST"]),
        Route("/api/sweep", handled(pages.sweep), methods=["POST"]),
        Route("/executions/{execution}", handled(pages.execution)),
        Route("/api/executions/{execution}/state", handled(pages.state)),
        Route("/api/executions/{execution}/steps/{step}", handled(pages.step)),
        Route("/api/executions/{execution}/steps/{step}/log", handled(pages.log)),
        Route("/api/executions/{execution}/stop", handled(pages.stop), methods=["POST"]),
        Route("/api/executions/{execution}/retry", handled(pages.retry), methods=["POST"]),
        Route("/api/executions/{execution}/rerun", handled(pages.rerun), methods=["POST"]),
        Route("/compare", handled(pages.compare)),
        Route("/compare/plot/{kind}", handled(pages.plot)),
        Route("/registry", handled(pages.registry)),
        Route("/api/packages/approval", handled(pages.approve), methods=["POST"]),
        Route("/api/packages/deploy", handled(pages.deploy), methods=["POST"]),
        Route("/api/endpoints/{endpoint}/invoke", handled(pages.invoke), methods=["POST"]),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Guard(Starlette(routes=routes), token, port)
