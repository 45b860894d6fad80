//! Istio's template data model, as Go sees it: `SidecarTemplateData` over
//! the pod (Kubernetes' Go types), the proxy and mesh config (Istio's
//! protobuf types) and the values (`map[string]any`).
//!
//! The data stays JSON; these kinds tell the template engine which JSON
//! objects are Go structs (fields by Go name, missing means zero) and which
//! are maps (exact keys), and the Go field order where output depends on
//! it (`structToJSON` writes a struct's fields in declaration order).
//! Fields not listed read their lower-camel JSON key, Kubernetes' and
//! protobuf's convention, so only exceptions and typed fields are listed.

use gotemplate::{EnumDef, FieldDef, Kind, StructDef};

const fn field(name: &'static str, key: &'static str, kind: Kind) -> FieldDef {
    FieldDef::new(name, key, kind)
}

static STRING_LIST: Kind = Kind::List(&Kind::String);

static OWNER_REFERENCE: StructDef = StructDef {
    name: "v1.OwnerReference",
    fields: &[
        field("APIVersion", "apiVersion", Kind::String),
        field("Kind", "kind", Kind::String),
        field("Name", "name", Kind::String),
        field("UID", "uid", Kind::String),
    ],
    lower_camel_rest: true,
};
static OWNER_REFERENCE_KIND: Kind = Kind::Struct(&OWNER_REFERENCE);

pub static OBJECT_META: StructDef = StructDef {
    name: "v1.ObjectMeta",
    fields: &[
        field("Name", "name", Kind::String),
        field("GenerateName", "generateName", Kind::String),
        field("Namespace", "namespace", Kind::String),
        field("UID", "uid", Kind::String),
        field("Labels", "labels", Kind::STRING_MAP),
        field("Annotations", "annotations", Kind::STRING_MAP),
        field(
            "OwnerReferences",
            "ownerReferences",
            Kind::List(&OWNER_REFERENCE_KIND),
        ),
        field("Finalizers", "finalizers", STRING_LIST),
    ],
    lower_camel_rest: true,
};

/// `corev1.ContainerPort`, in Go's field order (`structToJSON` output).
static CONTAINER_PORT: StructDef = StructDef {
    name: "v1.ContainerPort",
    fields: &[
        field("Name", "name", Kind::String),
        field("HostPort", "hostPort", Kind::Int),
        field("ContainerPort", "containerPort", Kind::Int),
        field("Protocol", "protocol", Kind::String),
        field("HostIP", "hostIP", Kind::String),
    ],
    lower_camel_rest: false,
};
static CONTAINER_PORT_KIND: Kind = Kind::Struct(&CONTAINER_PORT);

static ENV_VAR: StructDef = StructDef {
    name: "v1.EnvVar",
    fields: &[
        field("Name", "name", Kind::String),
        field("Value", "value", Kind::String),
    ],
    lower_camel_rest: true,
};
static ENV_VAR_KIND: Kind = Kind::Struct(&ENV_VAR);

static RESOURCES: StructDef = StructDef {
    name: "v1.ResourceRequirements",
    fields: &[
        field("Limits", "limits", Kind::STRING_MAP),
        field("Requests", "requests", Kind::STRING_MAP),
    ],
    lower_camel_rest: true,
};

pub static CONTAINER: StructDef = StructDef {
    name: "v1.Container",
    fields: &[
        field("Name", "name", Kind::String),
        field("Image", "image", Kind::String),
        field("Command", "command", STRING_LIST),
        field("Args", "args", STRING_LIST),
        field("WorkingDir", "workingDir", Kind::String),
        field("Ports", "ports", Kind::List(&CONTAINER_PORT_KIND)),
        field("Env", "env", Kind::List(&ENV_VAR_KIND)),
        field("Resources", "resources", Kind::Struct(&RESOURCES)),
        field("RestartPolicy", "restartPolicy", Kind::String),
        field("ImagePullPolicy", "imagePullPolicy", Kind::String),
        field("TTY", "tty", Kind::Bool),
    ],
    lower_camel_rest: true,
};
static CONTAINER_KIND: Kind = Kind::Struct(&CONTAINER);

pub static POD_SPEC: StructDef = StructDef {
    name: "v1.PodSpec",
    fields: &[
        field(
            "InitContainers",
            "initContainers",
            Kind::List(&CONTAINER_KIND),
        ),
        field("Containers", "containers", Kind::List(&CONTAINER_KIND)),
        field("ServiceAccountName", "serviceAccountName", Kind::String),
        field("NodeName", "nodeName", Kind::String),
        field("HostNetwork", "hostNetwork", Kind::Bool),
        field("HostPID", "hostPID", Kind::Bool),
        field("HostIPC", "hostIPC", Kind::Bool),
        field("NodeSelector", "nodeSelector", Kind::STRING_MAP),
    ],
    lower_camel_rest: true,
};

static INTERCEPTION_MODE: EnumDef = EnumDef {
    name: "v1alpha1.ProxyConfig_InboundInterceptionMode",
    values: &["REDIRECT", "TPROXY", "NONE"],
};

static AUTHENTICATION_POLICY: EnumDef = EnumDef {
    name: "v1alpha1.AuthenticationPolicy",
    values: &["NONE", "MUTUAL_TLS", "INHERIT"],
};

/// `wrapperspb.BoolValue`: JSON writes the bare bool; Go reads `.Value`
/// or `.GetValue`.
static BOOL_VALUE: StructDef = StructDef {
    name: "wrapperspb.BoolValue",
    fields: &[
        field("Value", "", Kind::Bool),
        field("GetValue", "", Kind::Bool),
    ],
    lower_camel_rest: false,
};

static INT32_VALUE: StructDef = StructDef {
    name: "wrapperspb.Int32Value",
    fields: &[
        field("Value", "", Kind::Int),
        field("GetValue", "", Kind::Int),
    ],
    lower_camel_rest: false,
};

static CLIENT_TLS_SETTINGS: StructDef = StructDef {
    name: "v1alpha3.ClientTLSSettings",
    fields: &[
        field("CaCertificates", "caCertificates", Kind::String),
        field("GetCaCertificates", "caCertificates", Kind::String),
    ],
    lower_camel_rest: true,
};

static TRACING: StructDef = StructDef {
    name: "v1alpha1.Tracing",
    fields: &[
        field(
            "TlsSettings",
            "tlsSettings",
            Kind::Struct(&CLIENT_TLS_SETTINGS),
        ),
        field(
            "GetTlsSettings",
            "tlsSettings",
            Kind::Struct(&CLIENT_TLS_SETTINGS),
        ),
    ],
    lower_camel_rest: true,
};

pub static PROXY_CONFIG: StructDef = StructDef {
    name: "v1alpha1.ProxyConfig",
    fields: &[
        field("DiscoveryAddress", "discoveryAddress", Kind::String),
        field(
            "ControlPlaneAuthPolicy",
            "controlPlaneAuthPolicy",
            Kind::Enum(&AUTHENTICATION_POLICY),
        ),
        field("Concurrency", "concurrency", Kind::Struct(&INT32_VALUE)),
        field("GetConcurrency", "concurrency", Kind::Struct(&INT32_VALUE)),
        field(
            "InterceptionMode",
            "interceptionMode",
            Kind::Enum(&INTERCEPTION_MODE),
        ),
        field(
            "GetInterceptionMode",
            "interceptionMode",
            Kind::Enum(&INTERCEPTION_MODE),
        ),
        field("Tracing", "tracing", Kind::Struct(&TRACING)),
        field("GetTracing", "tracing", Kind::Struct(&TRACING)),
        field("ProxyMetadata", "proxyMetadata", Kind::STRING_MAP),
        field("GetProxyMetadata", "proxyMetadata", Kind::STRING_MAP),
        field("RuntimeValues", "runtimeValues", Kind::STRING_MAP),
        field("StatusPort", "statusPort", Kind::Int),
        field("ProxyAdminPort", "proxyAdminPort", Kind::Int),
        field(
            "HoldApplicationUntilProxyStarts",
            "holdApplicationUntilProxyStarts",
            Kind::Struct(&BOOL_VALUE),
        ),
        field(
            "GetHoldApplicationUntilProxyStarts",
            "holdApplicationUntilProxyStarts",
            Kind::Struct(&BOOL_VALUE),
        ),
    ],
    lower_camel_rest: true,
};

/// The OpenTelemetry provider, whose attribute enrichment
/// `otelResourceAttributes` reads.
static OPENTELEMETRY_PROVIDER: StructDef = StructDef {
    name: "v1alpha1.MeshConfig_ExtensionProvider_OpenTelemetryTracingProvider",
    fields: &[field(
        "ServiceAttributeEnrichment",
        "serviceAttributeEnrichment",
        Kind::String,
    )],
    lower_camel_rest: true,
};

static EXTENSION_PROVIDER: StructDef = StructDef {
    name: "v1alpha1.MeshConfig_ExtensionProvider",
    fields: &[
        field("Name", "name", Kind::String),
        field(
            "Opentelemetry",
            "opentelemetry",
            Kind::Struct(&OPENTELEMETRY_PROVIDER),
        ),
    ],
    lower_camel_rest: true,
};
static EXTENSION_PROVIDER_KIND: Kind = Kind::Struct(&EXTENSION_PROVIDER);

pub static MESH_CONFIG: StructDef = StructDef {
    name: "v1alpha1.MeshConfig",
    fields: &[
        field("TrustDomain", "trustDomain", Kind::String),
        field("TrustDomainAliases", "trustDomainAliases", STRING_LIST),
        field("RootNamespace", "rootNamespace", Kind::String),
        field("ProxyListenPort", "proxyListenPort", Kind::Int),
        field(
            "ProxyInboundListenPort",
            "proxyInboundListenPort",
            Kind::Int,
        ),
        field("ProxyHttpPort", "proxyHttpPort", Kind::Int),
        field(
            "DefaultConfig",
            "defaultConfig",
            Kind::Struct(&PROXY_CONFIG),
        ),
        field(
            "GetDefaultConfig",
            "defaultConfig",
            Kind::Struct(&PROXY_CONFIG),
        ),
        field(
            "ExtensionProviders",
            "extensionProviders",
            Kind::List(&EXTENSION_PROVIDER_KIND),
        ),
        field(
            "EnablePrometheusMerge",
            "enablePrometheusMerge",
            Kind::Struct(&BOOL_VALUE),
        ),
    ],
    lower_camel_rest: true,
};
