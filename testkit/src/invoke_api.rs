//! A Lambda Invoke API on loopback for asynchronous invocations, as the
//! emulator's SNS makes them: every `POST /2015-03-31/functions/{name}/invocations`
//! is answered 202 at once and handed over with its path and body.

use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;

/// The function an invocation path names: `/2015-03-31/functions/{name}/invocations`.
pub fn function_name(path: &str) -> &str {
    path.split('/').nth(3).unwrap_or("")
}

/// Serves the API until the runtime stops; returns its URL. `on_invoke`
/// gets the request path and body and must not block (spawn long work).
pub async fn serve_async_invokes(
    on_invoke: impl Fn(String, Vec<u8>) + Send + Sync + 'static,
) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let on_invoke = Arc::new(on_invoke);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let on_invoke = on_invoke.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let on_invoke = on_invoke.clone();
                        async move {
                            let path = req.uri().path().to_string();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes().to_vec())
                                .unwrap_or_default();
                            on_invoke(path, body);
                            let mut accepted = hyper::Response::new(Full::new(bytes::Bytes::new()));
                            *accepted.status_mut() = hyper::StatusCode::ACCEPTED;
                            Ok::<_, std::convert::Infallible>(accepted)
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(url)
}
