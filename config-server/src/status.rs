//! `config-server status`: the `Status` RPC, printed for an operator.

use std::fmt::Write;

use edge::channel::{self, ChannelError, ClientTls};
use edge::report::Chain;
use proto::SnapshotServiceClient;
use proto::v1::{Provenance, StatusRequest, StatusResponse, provenance};

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error("cannot connect to {url}: {}", Chain(.error))]
    Connect {
        url: String,
        error: tonic::transport::Error,
    },
    #[error("Status RPC failed: {0}")]
    Rpc(#[from] tonic::Status),
}

/// Asks the server at `url` for its status.
pub async fn fetch(url: &str, tls: Option<&ClientTls>) -> Result<StatusResponse, StatusError> {
    let channel = channel::endpoint(url, tls)?
        .connect()
        .await
        .map_err(|error| StatusError::Connect {
            url: url.to_string(),
            error,
        })?;
    let response = SnapshotServiceClient::new(channel)
        .status(StatusRequest {})
        .await?;
    Ok(response.into_inner())
}

/// The status as text: the current snapshot and its sources, the last
/// rejection, then one block per replica.
pub fn render(status: &StatusResponse) -> String {
    let mut out = String::new();
    let time = |t: &Option<prost_types::Timestamp>| {
        t.as_ref()
            .map_or_else(|| "-".to_string(), ToString::to_string)
    };
    match &status.current {
        Some(s) => {
            let _ = writeln!(
                out,
                "snapshot: version {} {} (built {})",
                s.version,
                s.hash,
                time(&s.built_at)
            );
            for p in &s.provenance {
                let _ = writeln!(out, "  {}: {}", p.key, describe(p));
            }
            if !s.template_dialect.is_empty() {
                let _ = writeln!(
                    out,
                    "  templates: {} ({})",
                    s.template_dialect, s.template_dialect_reason
                );
            }
            if !s.min_injector_version.is_empty() {
                let _ = writeln!(out, "  requires injector >= {}", s.min_injector_version);
            }
        }
        None => out.push_str("snapshot: none (no valid configuration yet)\n"),
    }
    match &status.cluster {
        Some(c) => {
            let sidecars = if c.native_sidecars {
                "native"
            } else {
                "classic"
            };
            let _ = writeln!(
                out,
                "native sidecars: {} ({sidecars}): {}",
                c.mode, c.reason
            );
        }
        None => out.push_str("native sidecars: undecided (reading the cluster)\n"),
    }
    let _ = writeln!(out, "rejected: {}", status.rejected_total);
    if let Some(r) = &status.last_rejection {
        let _ = writeln!(out, "  last at {}: {}", time(&r.at), r.reason);
    }
    let _ = writeln!(out, "replicas: {}", status.replicas.len());
    for r in &status.replicas {
        let identity = r.identity.clone().unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} (injector {}, {}, connected since {})",
            identity.pod_name,
            identity.binary_version,
            r.peer,
            time(&r.connected_since)
        );
        let _ = writeln!(out, "    sent:  version {} {}", r.sent_version, r.sent_hash);
        if r.acked_hash.is_empty() {
            out.push_str("    acked: none\n");
        } else {
            let _ = writeln!(
                out,
                "    acked: version {} {} at {}",
                r.acked_version,
                r.acked_hash,
                time(&r.acked_at)
            );
        }
        if let Some(n) = &r.last_nack {
            let _ = writeln!(
                out,
                "    NACK ({} total) version {} {} at {}: {}",
                r.nacks_total,
                n.version,
                n.hash,
                time(&r.nacked_at),
                n.error
            );
        }
    }
    out
}

fn describe(p: &Provenance) -> String {
    match &p.source {
        Some(provenance::Source::ConfigMap(cm)) => format!(
            "ConfigMap {}/{} resourceVersion {}",
            cm.namespace, cm.name, cm.resource_version
        ),
        Some(provenance::Source::File(path)) => format!("file {path}"),
        Some(provenance::Source::Embedded(name)) => format!("embedded {name}"),
        None => "unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use proto::v1::{ClusterFacts, Identity, Nack, ReplicaStatus, Snapshot};

    use super::*;

    #[test]
    fn renders_snapshot_replicas_and_nacks() {
        let status = StatusResponse {
            current: Some(Snapshot {
                version: 2,
                hash: "sha256:aa".into(),
                provenance: vec![Provenance {
                    key: "config".into(),
                    source: Some(provenance::Source::File("/cfg/config".into())),
                }],
                template_dialect: "go".into(),
                template_dialect_reason: "declared by templateDialect".into(),
                ..Snapshot::default()
            }),
            rejected_total: 0,
            last_rejection: None,
            replicas: vec![ReplicaStatus {
                identity: Some(Identity {
                    pod_name: "injector-a".into(),
                    binary_version: "0.1.0".into(),
                }),
                sent_version: 2,
                sent_hash: "sha256:aa".into(),
                last_nack: Some(Nack {
                    hash: "sha256:aa".into(),
                    version: 2,
                    error: "too old".into(),
                }),
                nacks_total: 1,
                ..ReplicaStatus::default()
            }],
            cluster: Some(ClusterFacts {
                mode: "auto".into(),
                native_sidecars: false,
                reason: "node worker-3 runs kubelet v1.28.4".into(),
            }),
        };
        let text = render(&status);
        assert!(
            text.contains("native sidecars: auto (classic): node worker-3 runs kubelet v1.28.4"),
            "{text}"
        );
        assert!(text.contains("snapshot: version 2 sha256:aa"), "{text}");
        assert!(text.contains("config: file /cfg/config"), "{text}");
        assert!(
            text.contains("templates: go (declared by templateDialect)"),
            "{text}"
        );
        assert!(text.contains("injector-a (injector 0.1.0"), "{text}");
        assert!(text.contains("acked: none"), "{text}");
        assert!(
            text.contains("NACK (1 total) version 2 sha256:aa at -: too old"),
            "{text}"
        );
    }
}
