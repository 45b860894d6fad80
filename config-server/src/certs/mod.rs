//! Self-managed webhook certificates.
//!
//! The config server keeps a CA and a serving certificate for the injector
//! Service in a Secret (`tls.crt`/`tls.key` for the injectors to mount,
//! `ca.crt`/`ca.key` for itself), puts the CA bundle into every webhook of
//! the MutatingWebhookConfiguration, and rotates both before they expire:
//!
//! - the serving certificate is reissued when a third of its lifetime is
//!   left; the injectors pick it up through their certificate file reload,
//!   and the API server already trusts its CA;
//! - a new CA is first only *added* to the bundle (Secret and webhook). The
//!   serving certificate moves to it on a later pass, once the webhook
//!   trusts it, so at every moment the certificate served is trusted by
//!   the API server. Expired CAs leave the bundle.
//!
//! Every replica runs this loop; they agree through the API's optimistic
//! concurrency: a create that finds the Secret already there, or a replace
//! with a stale resourceVersion (409), starts the pass again from a fresh
//! read, and adopts what the other replica wrote.

pub mod pki;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use edge::report::Chain;
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};
use tracing::{info, warn};

use pki::{CertInfo, Pair, PkiError};

pub const TLS_CERT: &str = "tls.crt";
pub const TLS_KEY: &str = "tls.key";
pub const CA_CERT: &str = "ca.crt";
pub const CA_KEY: &str = "ca.key";

/// How often a replica gives up on a pass that keeps conflicting.
const ATTEMPTS: usize = 5;

/// What to manage and how long certificates live.
#[derive(Clone, Debug)]
pub struct CertOptions {
    pub namespace: String,
    /// The Secret holding the certificates.
    pub secret: String,
    /// The MutatingWebhookConfiguration whose `caBundle`s to keep current.
    pub webhook: String,
    /// The injector Service the serving certificate is for.
    pub service: String,
    pub ca_lifetime: Duration,
    pub cert_lifetime: Duration,
    /// Rotation starts when less than this fraction of a lifetime is left.
    pub renew_fraction: f64,
    /// How often to check.
    pub interval: Duration,
}

impl CertOptions {
    /// The Service's DNS names, as the API server and in-cluster clients
    /// address it.
    pub fn dns_names(&self) -> Vec<String> {
        let (svc, ns) = (&self.service, &self.namespace);
        vec![
            format!("{svc}.{ns}.svc"),
            format!("{svc}.{ns}.svc.cluster.local"),
            format!("{svc}.{ns}"),
            svc.clone(),
        ]
    }
}

/// Why a pass failed. The loop logs it and tries again next interval.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("Kubernetes API: {}", Chain(.0))]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("gave up after {ATTEMPTS} conflicting writes")]
    Contended,
}

/// What a pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub created_ca: bool,
    pub issued_serving: bool,
    pub secret_written: bool,
    pub webhooks_patched: usize,
    pub conflicts: usize,
}

/// The certificates as the Secret holds them.
#[derive(Clone, Debug)]
struct Stored {
    ca_bundle: String,
    cas: Vec<CertInfo>,
    ca_key: String,
    serving: Pair,
    serving_info: Option<CertInfo>,
}

fn text(data: &BTreeMap<String, ByteString>, key: &str) -> Option<String> {
    data.get(key)
        .and_then(|b| String::from_utf8(b.0.clone()).ok())
}

impl Stored {
    /// Reads the Secret; `None` when it is absent or unusable (no CA), in
    /// which case everything is made anew.
    fn read(secret: Option<&Secret>) -> Option<Stored> {
        let data = secret?.data.as_ref()?;
        let ca_bundle = text(data, CA_CERT)?;
        let cas = pki::parse_bundle(&ca_bundle, "ca.crt").ok()?;
        let ca_key = text(data, CA_KEY)?;
        let serving = Pair {
            cert: text(data, TLS_CERT).unwrap_or_default(),
            key: text(data, TLS_KEY).unwrap_or_default(),
        };
        let serving_info = pki::parse_bundle(&serving.cert, "tls.crt")
            .ok()
            .and_then(|mut c| (!c.is_empty()).then(|| c.remove(0)));
        Some(Stored {
            ca_bundle,
            cas,
            ca_key,
            serving,
            serving_info,
        })
    }

    fn data(&self) -> BTreeMap<String, ByteString> {
        [
            (CA_CERT, &self.ca_bundle),
            (CA_KEY, &self.ca_key),
            (TLS_CERT, &self.serving.cert),
            (TLS_KEY, &self.serving.key),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), ByteString(v.clone().into_bytes())))
        .collect()
    }

    /// The CA that signs: the first of the bundle, whose key is stored.
    fn current_ca(&self) -> Pair {
        Pair {
            cert: split_pem(&self.ca_bundle)
                .into_iter()
                .next()
                .unwrap_or_default(),
            key: self.ca_key.clone(),
        }
    }
}

/// Keeps the webhook's certificates current. Cheap to clone per replica.
#[derive(Clone)]
pub struct CertManager {
    client: kube::Client,
    options: CertOptions,
}

impl CertManager {
    pub fn new(client: kube::Client, options: CertOptions) -> Self {
        CertManager { client, options }
    }

    /// Checks every `interval` until `shutdown` resolves.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.reconcile(SystemTime::now()).await {
                Ok(pass) if pass != Pass::default() => info!(?pass, "webhook certificates updated"),
                Ok(_) => {}
                Err(e) => warn!(error = %e, "webhook certificates not reconciled; retrying"),
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(self.options.interval) => {}
            }
        }
    }

    /// One pass at time `now`: read, decide, write, retrying on conflict.
    pub async fn reconcile(&self, now: SystemTime) -> Result<Pass, CertError> {
        let mut pass = Pass::default();
        for _ in 0..ATTEMPTS {
            match self.attempt(now, &mut pass).await {
                Err(CertError::Kube(kube::Error::Api(status))) if status.code == 409 => {
                    pass.conflicts += 1;
                }
                other => return other.map(|()| pass),
            }
        }
        Err(CertError::Contended)
    }

    async fn attempt(&self, now: SystemTime, pass: &mut Pass) -> Result<(), CertError> {
        let o = &self.options;
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &o.namespace);
        let webhooks: Api<MutatingWebhookConfiguration> = Api::all(self.client.clone());
        let secret = secrets.get_opt(&o.secret).await?;
        let webhook = webhooks.get_opt(&o.webhook).await?;
        if webhook.is_none() {
            warn!(name = %o.webhook, "MutatingWebhookConfiguration not found; only the Secret is managed");
        }

        let stored = Stored::read(secret.as_ref());
        let trusted = |ca: &CertInfo| webhook.as_ref().is_none_or(|w| trusts(w, ca));
        let next = self.plan(stored.clone(), now, trusted, pass)?;
        let ca_bundle = next.ca_bundle.clone();
        if stored.map(|s| s.data()) != Some(next.data()) {
            let mut object = secret.unwrap_or_else(|| Secret {
                metadata: ObjectMeta {
                    name: Some(o.secret.clone()),
                    namespace: Some(o.namespace.clone()),
                    ..Default::default()
                },
                type_: Some("kubernetes.io/tls".into()),
                ..Default::default()
            });
            object.data = Some(next.data());
            if object.metadata.resource_version.is_some() {
                secrets
                    .replace(&o.secret, &PostParams::default(), &object)
                    .await?;
            } else {
                secrets.create(&PostParams::default(), &object).await?;
            }
            pass.secret_written = true;
        }

        if let Some(mut webhook) = webhook {
            let bundle = ByteString(ca_bundle.into_bytes());
            let mut changed = 0;
            for hook in webhook.webhooks.iter_mut().flatten() {
                if hook.client_config.ca_bundle.as_ref() != Some(&bundle) {
                    hook.client_config.ca_bundle = Some(bundle.clone());
                    changed += 1;
                }
            }
            if changed > 0 {
                webhooks
                    .replace(&o.webhook, &PostParams::default(), &webhook)
                    .await?;
                pass.webhooks_patched += changed;
            }
        }
        Ok(())
    }

    /// What the Secret should hold after this pass.
    fn plan(
        &self,
        stored: Option<Stored>,
        now: SystemTime,
        trusted: impl Fn(&CertInfo) -> bool,
        pass: &mut Pass,
    ) -> Result<Stored, CertError> {
        let o = &self.options;
        let names = o.dns_names();
        let issue = |ca: &Pair, pass: &mut Pass| -> Result<Pair, PkiError> {
            pass.issued_serving = true;
            pki::issue_serving(ca, &names, now, o.cert_lifetime)
        };
        let new_ca = |pass: &mut Pass| -> Result<Pair, PkiError> {
            pass.created_ca = true;
            pki::new_ca(
                &format!("{}.{} CA", o.service, o.namespace),
                now,
                o.ca_lifetime,
            )
        };
        let Some(mut s) = stored else {
            let ca = new_ca(pass)?;
            let serving = issue(&ca, pass)?;
            return Ok(Stored {
                cas: pki::parse_bundle(&ca.cert, "ca.crt")?,
                ca_bundle: ca.cert,
                ca_key: ca.key,
                serving,
                serving_info: None,
            });
        };

        // A new CA joins the bundle first; the old ones stay until expiry.
        if s.cas[0].due(now, o.renew_fraction) {
            let ca = new_ca(pass)?;
            let mut bundle = ca.cert.clone();
            for (info, pem) in s.cas.iter().zip(split_pem(&s.ca_bundle)) {
                if info.not_after > now {
                    bundle.push_str(&pem);
                }
            }
            s.cas = pki::parse_bundle(&bundle, "ca.crt")?;
            s.ca_bundle = bundle;
            s.ca_key = ca.key;
        } else if s.cas.iter().skip(1).any(|c| c.not_after <= now) {
            let kept: String = s
                .cas
                .iter()
                .zip(split_pem(&s.ca_bundle))
                .filter(|(info, _)| info.not_after > now)
                .map(|(_, pem)| pem)
                .collect();
            s.cas = pki::parse_bundle(&kept, "ca.crt")?;
            s.ca_bundle = kept;
        }

        let current = &s.cas[0];
        let reissue = match &s.serving_info {
            None => true,
            Some(info) => {
                let wrong_names = info.dns_names != names;
                let not_from_bundle = !s.cas.iter().any(|ca| info.signed_by(ca));
                let moves_to_current = !info.signed_by(current) && trusted(current);
                wrong_names
                    || not_from_bundle
                    || moves_to_current
                    || info.due(now, o.renew_fraction)
            }
        };
        if reissue {
            s.serving = issue(&s.current_ca(), pass)?;
        }
        Ok(s)
    }
}

/// Whether every webhook of `config` trusts `ca`.
fn trusts(config: &MutatingWebhookConfiguration, ca: &CertInfo) -> bool {
    config.webhooks.iter().flatten().all(|hook| {
        let bundle = hook.client_config.ca_bundle.as_ref();
        let pem = bundle.and_then(|b| String::from_utf8(b.0.clone()).ok());
        pem.and_then(|p| pki::parse_bundle(&p, "caBundle").ok())
            .is_some_and(|cas| cas.iter().any(|c| c.der == ca.der))
    })
}

/// The certificates of a PEM bundle as separate PEM texts, in order.
fn split_pem(bundle: &str) -> Vec<String> {
    bundle
        .split_inclusive("-----END CERTIFICATE-----")
        .map(|p| p.trim_start().to_string() + "\n")
        .filter(|p| p.contains("BEGIN CERTIFICATE"))
        .collect()
}
