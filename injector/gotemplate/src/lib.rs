//! Go's `text/template`, with sprig, for Rust: parse once, execute over
//! borrowed JSON, and learn which output bytes came from untrusted strings.
//!
//! Istio's `istio-sidecar-injector` ConfigMap holds Go templates (plus
//! sprig, plus Istio's own functions) over Istio's Go data model. This
//! crate runs them unchanged: the injection engine registers Istio's
//! functions through [`Funcs`], describes its data model with [`Kind`]s,
//! and checks the structure of the rendered YAML using the tainted spans
//! that [`Template::execute`] reports.
//!
//! ```
//! use gotemplate::{ArgsExt, FieldDef, Funcs, Kind, StructDef, Template, Value, locate};
//!
//! // Part of a Go struct type, as the pod's JSON spells it.
//! static OBJECT_META: StructDef = StructDef {
//!     name: "v1.ObjectMeta",
//!     fields: &[FieldDef::new("Annotations", "annotations", Kind::STRING_MAP)],
//!     lower_camel_rest: true, // Name -> "name", Namespace -> "namespace", ...
//! };
//!
//! let mut funcs = Funcs::with_sprig();
//! // A function of the caller's: variadic, any values, errors as messages.
//! funcs.insert("isset", |args| {
//!     args.exact(2)?;
//!     Ok(Value::Bool(args[0].map_has(args.string(1)?.as_str()).unwrap_or(false)))
//! });
//! let template = Template::parse(
//!     "sidecar",
//!     "name: {{ .ObjectMeta.Name | quote }}\n{{ if isset .ObjectMeta.Annotations `a` }}a: set{{ end }}",
//!     &funcs,
//! )?;
//!
//! let pod = serde_json::json!({"metadata": {"name": "web", "annotations": {"a": "1"}}});
//! let data = Value::record("Data", vec![
//!     // The pod's strings are untrusted: taint them.
//!     ("ObjectMeta", Value::json_tainted(&pod["metadata"], Kind::Struct(&OBJECT_META))),
//! ]);
//! let out = template.execute(&data)?;
//! assert_eq!(out.text, "name: \"web\"\na: set");
//! // The bytes `web` (not the quotes) came from the pod, at /metadata/name.
//! assert_eq!(out.taint.len(), 1);
//! assert_eq!(&out.text[out.taint[0].range.clone()], "web");
//! assert_eq!(locate(&pod, out.taint[0].origin).as_deref(), Some("/metadata/name"));
//! # Ok::<(), gotemplate::Error>(())
//! ```
//!
//! # Why not an existing crate
//!
//! `gtmpl` (last released 2021) and its fork `go-template` execute over their
//! own owned `Value` type: every render would deep-copy the pod, `values` and
//! mesh config into it. Their values have no struct/map distinction (a Go
//! struct field and a map key read the same, and a missing field is not its
//! type's zero), no typed maps (`index` of a missing annotation is not ""),
//! no taint, and no sprig. Those are the things Istio's templates and our
//! structure-safety check need, so this crate implements the language itself.
//!
//! # The language
//!
//! Everything in Go's `text/template` documentation, with Go's semantics:
//! text and actions, `{{-`/`-}}` trim markers, `{{/* comments */}}`;
//! pipelines with `|`, parenthesized sub-pipelines, field chains on any
//! operand (`(x).Field`, `$v.A.B`); variables (`$x := ...`, `$x = ...`,
//! `$` the data root) scoped as in Go; `if`/`else if`/`else`, `with`/`else
//! with`/`else`, `range` (with `$i, $v :=`, `else`, `break`, `continue`, over
//! lists, maps in key order, and integers); `define`, `template`, `block`;
//! string (interpreted and raw), character, number (ints, floats, hex,
//! octal, binary, `_`), `nil`, `true`/`false` constants. Unknown functions
//! are parse errors. Missing map keys follow Go's default `missingkey`: `<no
//! value>` when printed, nil when passed to a function.
//!
//! Go's builtins: `and`/`or` (short-circuit, return an operand), `not`,
//! `index`, `slice`, `len`, `eq` (several operands), `ne`, `lt`, `le`, `gt`,
//! `ge` (Go's comparison rules: only within bool, int, float and string;
//! nil equals only nil), `print`, `printf`, `println` (Go's `fmt`: `%v %s %d
//! %q %t %x %X %o %b %c %U %e %f %g %T %%`, flags, width, precision, `*`,
//! `%!d(string=x)`-style notes), `html`, `js`, `urlquery`.
//!
//! Errors read like Go's: `template: sidecar:12:5: executing "sidecar" at
//! <.Values.foo.bar>: nil pointer evaluating interface {}.bar`.
//!
//! # sprig
//!
//! [`Funcs::with_sprig`] adds sprig's deterministic, I/O-free functions:
//! strings (`trim trimAll trimall trimPrefix trimSuffix upper lower title
//! untitle nospace repeat substr trunc contains hasPrefix hasSuffix quote
//! squote cat indent nindent replace plural toString toStrings join split
//! splitList splitn sortAlpha b64enc b64dec`), lists (`list tuple append
//! push prepend first last rest initial reverse uniq without has compact
//! concat chunk until untilStep`), dicts (`dict get set unset hasKey keys
//! values pluck pick omit dig merge mergeOverwrite`), math (`add add1 sub mul
//! div mod max biggest min addf add1f subf mulf divf maxf minf floor ceil
//! round int int64 float64 atoi`), defaults and flow (`default empty coalesce
//! all any ternary fail`), types (`typeOf typeIs kindOf kindIs deepEqual
//! deepCopy`), JSON (`toJson toPrettyJson toRawJson fromJson mustFromJson`),
//! paths (`base dir clean ext isAbs`), and the `must*` variants of these.
//! Istio's templates use `default quote nindent trunc trimAll join list
//! append`; Istio replaces `indent`, `contains`, `toLower`, `toYaml`, `omit`
//! and adds its own (`annotation`, `valueOrDefault`, `isset`, `toJSON`,
//! `structToJSON`, ...), which the engine registers with [`Funcs::insert`];
//! [`to_json`] and [`to_yaml`] are the serializers to build them on.
//!
//! Not provided: sprig's clock, random, crypto, regex, semver, UUID,
//! network, environment, case-conversion (`snakecase`...), `abbrev`,
//! `initials`, `wrap`, hash-sum, `b32*`, `seq`, `toDecimal`, `typeIsLike`,
//! `urlParse`/`urlJoin` functions, and sprig's `slice` (Go's builtin `slice`
//! stays). Go's `call` is not provided (values hold no functions).
//!
//! # Values and the caller's data model
//!
//! Data is passed per render as [`Value`]s borrowing `serde_json::Value`
//! trees: nothing is copied, field access reads the JSON in place. Values
//! that functions build (strings, lists, dicts) are owned and `Rc`-shared.
//!
//! Go treats structs and maps differently and Istio's templates rely on
//! both, so each JSON root carries a [`Kind`] saying what Go type it is:
//!
//! * [`Kind::Struct`]: a Go struct (pointer) described by a [`StructDef`]:
//!   Go field names map to JSON keys and give the child's kind; a missing
//!   field is its type's zero value; with `lower_camel_rest` any other
//!   capitalized name reads its lower-camel JSON key (Kubernetes' and
//!   protobuf JSON's convention) as [`Kind::Unknown`]. Argument-less methods
//!   are fields too: protobuf getters (`GetTracing` → `tracing`), a wrapper's
//!   `GetValue` (key `""`, the node itself).
//! * [`Kind::Map`] of an element kind: `map[string]T`; [`Kind::STRING_MAP`]
//!   is `map[string]string` (`index` of a missing key gives ""),
//!   [`Kind::Any`] objects are `map[string]any` (missing: no value).
//! * [`Kind::List`], [`Kind::String`], [`Kind::Int`], [`Kind::Float`],
//!   [`Kind::Bool`]; [`Kind::Enum`] for protobuf enums (print as their name,
//!   have `String`); [`Kind::Any`] for `encoding/json`-decoded `any` (numbers
//!   are float64, as in Go: `1e+06` prints like Go, and `eq` of a float64
//!   and an int constant is Go's "incompatible types" error).
//! * [`Kind::Unknown`] for a field whose Go type the model does not know:
//!   missing, it is [`Value::Zero`], which is false, has length 0, ranges
//!   over nothing, is `eq` to `""`, `0`, `false` and `nil`, and prints as
//!   nothing.
//!
//! Top-level data assembled from several sources (the pod, `values`, the
//! mesh config, a few scalars) is a [`Value::record`]: a struct with named
//! fields, printed as Go prints a struct.
//!
//! # Taint
//!
//! Strings the pod controls must never change the structure of the rendered
//! YAML. The caller marks JSON subtrees with [`Value::json_tainted`]: every
//! string and object key under it is tainted with an [`Origin`] (the node's
//! address; [`locate`] turns it into a JSON pointer). Taint then flows:
//!
//! * through variables, lists, dicts, `index`, `default`, `ternary`... (the
//!   value itself moves);
//! * through string functions by exact byte range where the output copies
//!   input bytes: concatenation (`printf`, `print`, `cat`, `join`),
//!   `indent`/`nindent`, `replace`, `trim*`, `trunc`, `substr`, `split*`,
//!   and per-character mappings (`quote`'s escaped contents, `upper`,
//!   `lower`, `html`, `js`, `urlquery`);
//! * otherwise to the whole output, with the input's first origin
//!   (`title`, `b64enc`, `b64dec`, `fromJson`'s strings);
//! * through [`to_json`]/[`to_yaml`] (`toJson`, `toPrettyJson`, `toRawJson`
//!   and the engine's serializers built on them) to exactly the bytes of the
//!   escaped string contents and map keys they write: never quotes, braces,
//!   colons or indentation. Keys of struct-kind objects are field names,
//!   fixed by the type, and stay untainted.
//!
//! Numbers and booleans are not tainted: they print as digits and words
//! that cannot change structure. [`Template::execute`] returns the text and
//! the sorted, disjoint tainted byte ranges ([`Rendered::taint`]). A function
//! of the caller's keeps taint by building strings with [`StrBuf`]
//! (`push`, `push_mapped`), [`Str::slice`], [`Str::map_runs`] or
//! [`Str::with_origin`]; a fresh [`Str::owned`] is untainted. Untainted data
//! costs nothing: a string's taint is a tag, spans exist only where taint is.
//!
//! # Differences from Go
//!
//! * Numbers are `int` (i64) and `float64`: no unsigned or complex numbers,
//!   no hexadecimal floats; an integer constant beyond i64 fails at parse
//!   time (Go fails when executing). A function's int parameter accepts an
//!   integral float64 (Go would refuse a float64 from data).
//! * Strings are UTF-8: a `\xff` escape is the character U+00FF, and
//!   `trunc`/`substr` cut at the nearest character boundary.
//! * Methods exist only as the kinds describe them (getters, an enum's
//!   `String`, a wrapper's `GetValue`); methods with arguments and `call` are
//!   not supported.
//! * A field of a nil struct pointer (a missing [`Kind::Struct`] node) is its
//!   zero value, as protobuf getters give, where Go fails with "nil pointer
//!   evaluating" for a plain field.
//! * An enum compares (`eq`) by name; Go compares the number.
//! * Variables declared in an `if`/`with`/`range` body are unknown in its
//!   `else` part at parse time (Go fails only if that `else` runs). A
//!   variable declared inside an operand that `and`/`or` skips has no value
//!   (Go fails with "undefined variable").
//! * Dicts are values: sprig's `set`, `unset`, `merge` and `mergeOverwrite`
//!   return the changed dict but do not change the dict a variable holds.
//!   Write `{{ $d = set $d "k" "v" }}` rather than `{{ $_ := set $d "k" "v"
//!   }}`. Dicts built by functions act as `map[string]any`.
//! * Structs read from JSON print (`%v`) as `{...}` of their present fields'
//!   values in JSON key order; Go prints every field in declaration order.
//! * `keys` and `values` return key order; Go's order is random.
//! * YAML from [`to_yaml`] double-quotes multi-line strings with escapes
//!   where yaml.v2 writes a literal block (`|-`); both read back the same.
//! * Control structures and parentheses nest at most 200 deep in one source,
//!   bodies and `template` calls at most 300 deep while running (Go allows
//!   100000 calls), and one execution writes at most 64 MiB: enough for any
//!   real template, and no input can exhaust the stack or memory.
//! * Error messages quote the failing expression's source (up to 40
//!   characters) where Go prints its parse node (20); parse errors also give
//!   the column. Only the default `missingkey` behaviour exists.
//! * `printf` lacks argument indexes (`%[1]d`) and `%x` of floats.

mod ast;
mod encode;
mod error;
mod exec;
mod format;
mod funcs;
mod kind;
mod lex;
mod parse;
mod taint;
mod template;
mod value;

pub use encode::{JsonStyle, to_json, to_yaml, write_json, write_yaml};
pub use error::{Error, FuncError};
pub use format::{sprint, sprintf, write_value};
pub use funcs::{ArgsExt, Funcs, Function};
pub use kind::{EnumDef, FieldDef, Kind, StructDef};
pub use taint::{Origin, Span, Str, StrBuf, Taint, locate};
pub use template::{Rendered, Template};
pub use value::{Json, List, ListItems, Map, Record, Value};
