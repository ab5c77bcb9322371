//! Pages and files compiled into the binary: the supervisors' reports at
//! `/reports` and the chart library they use (uPlot, MIT, vendored under
//! `web/vendor`). [`asset`] serves every such file, the chat widget's too.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use switchboard_runtime::AppState;

const REPORTS_PAGE: &str = include_str!("../web/reports/index.html");
const REPORTS_SCRIPT: &str = include_str!("../web/reports/reports.js");
const REPORTS_STYLE: &str = include_str!("../web/reports/reports.css");
const UPLOT_SCRIPT: &str = include_str!("../web/vendor/uplot/uPlot.esm.js");
const UPLOT_STYLE: &str = include_str!("../web/vendor/uplot/uPlot.min.css");
const CONSOLE_PAGE: &str = include_str!("../web/console/index.html");
const CONSOLE_SCRIPT: &str = include_str!("../web/console/console.js");
const CONSOLE_STYLE: &str = include_str!("../web/console/console.css");
const DESIGNER_PAGE: &str = include_str!("../web/console/designer.html");
const DESIGNER_SCRIPT: &str = include_str!("../web/console/designer.js");
const DESIGNER_STYLE: &str = include_str!("../web/console/designer.css");
const DRAWFLOW_SCRIPT: &str = include_str!("../web/vendor/drawflow/drawflow.min.js");
const DRAWFLOW_STYLE: &str = include_str!("../web/vendor/drawflow/drawflow.min.css");
const HOME_PAGE: &str = include_str!("../web/home/index.html");
const HOME_SCRIPT: &str = include_str!("../web/home/home.js");
const HOME_STYLE: &str = include_str!("../web/home/home.css");
const ICON: &str = include_str!("../web/shared/icon.svg");
const SHARED_SESSION: &str = include_str!("../web/shared/session.js");
const SHARED_STYLE: &str = include_str!("../web/shared/base.css");

/// The reports page may load only Switchboard's own files and talk only to
/// Switchboard; recordings play from `blob:` URLs; no other site may frame it.
const REPORTS_POLICY: &str = "default-src 'self'; connect-src 'self'; media-src 'self' blob:; \
     img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// A file compiled into the binary, revalidated on every load so an upgrade
/// shows at once.
pub fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// A page under the same-origin policy above.
fn page(body: &'static str) -> Response {
    (
        [(header::CONTENT_SECURITY_POLICY, REPORTS_POLICY)],
        asset("text/html; charset=utf-8", body),
    )
        .into_response()
}

fn reports_page() -> Response {
    page(REPORTS_PAGE)
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// What every page imports: DOM helpers, the API with its token, the
/// sign-in form (`/shared/session.js`), and the base look
/// (`/shared/base.css`: colours, controls, sign-in, top bar, cards, tables).
pub fn shared() -> Router<AppState> {
    Router::new()
        .route(
            "/shared/session.js",
            get(|| async { asset(JS, SHARED_SESSION) }),
        )
        .route(
            "/shared/base.css",
            get(|| async { asset(CSS, SHARED_STYLE) }),
        )
}

/// The landing page (`/`: the instance's name and the apps the user may
/// open) and the icon every page shows (`/favicon.svg`, also at
/// `/favicon.ico` for clients that ask there without looking).
pub fn home() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { page(HOME_PAGE) }))
        .route("/home/home.js", get(|| async { asset(JS, HOME_SCRIPT) }))
        .route("/home/home.css", get(|| async { asset(CSS, HOME_STYLE) }))
        .route("/favicon.svg", get(|| async { asset(SVG, ICON) }))
        .route("/favicon.ico", get(|| async { asset(SVG, ICON) }))
}

const SVG: &str = "image/svg+xml";

/// The administrators' console (`/console`: every configuration object)
/// and its flow designer (`/console/designer`), with Drawflow (MIT,
/// vendored) drawing the flow's graph.
pub fn console() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { page(CONSOLE_PAGE) }))
        .route("/console/", get(|| async { page(CONSOLE_PAGE) }))
        .route(
            "/console/console.js",
            get(|| async { asset(JS, CONSOLE_SCRIPT) }),
        )
        .route(
            "/console/console.css",
            get(|| async { asset(CSS, CONSOLE_STYLE) }),
        )
        .route("/console/designer", get(|| async { page(DESIGNER_PAGE) }))
        .route(
            "/console/designer.js",
            get(|| async { asset(JS, DESIGNER_SCRIPT) }),
        )
        .route(
            "/console/designer.css",
            get(|| async { asset(CSS, DESIGNER_STYLE) }),
        )
        .route(
            "/vendor/drawflow/drawflow.min.js",
            get(|| async { asset(JS, DRAWFLOW_SCRIPT) }),
        )
        .route(
            "/vendor/drawflow/drawflow.min.css",
            get(|| async { asset(CSS, DRAWFLOW_STYLE) }),
        )
}

/// The reports pages (real-time, historical, usage and contacts) and uPlot.
pub fn reports() -> Router<AppState> {
    Router::new()
        .route("/reports", get(|| async { reports_page() }))
        .route("/reports/", get(|| async { reports_page() }))
        .route(
            "/reports/reports.js",
            get(|| async { asset("text/javascript; charset=utf-8", REPORTS_SCRIPT) }),
        )
        .route(
            "/reports/reports.css",
            get(|| async { asset("text/css; charset=utf-8", REPORTS_STYLE) }),
        )
        .route(
            "/vendor/uplot/uPlot.esm.js",
            get(|| async { asset("text/javascript; charset=utf-8", UPLOT_SCRIPT) }),
        )
        .route(
            "/vendor/uplot/uPlot.min.css",
            get(|| async { asset("text/css; charset=utf-8", UPLOT_STYLE) }),
        )
}
