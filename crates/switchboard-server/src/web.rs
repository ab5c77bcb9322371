//! Pages and files compiled into the binary: the supervisors' reports at
//! `/reports` and the chart library they use (uPlot, MIT, vendored under
//! `web/vendor`). [`asset`] serves every such file, the chat widget's too.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::AppState;

const REPORTS_PAGE: &str = include_str!("../web/reports/index.html");
const REPORTS_SCRIPT: &str = include_str!("../web/reports/reports.js");
const REPORTS_STYLE: &str = include_str!("../web/reports/reports.css");
const UPLOT_SCRIPT: &str = include_str!("../web/vendor/uplot/uPlot.esm.js");
const UPLOT_STYLE: &str = include_str!("../web/vendor/uplot/uPlot.min.css");

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

fn reports_page() -> Response {
    (
        [(header::CONTENT_SECURITY_POLICY, REPORTS_POLICY)],
        asset("text/html; charset=utf-8", REPORTS_PAGE),
    )
        .into_response()
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
