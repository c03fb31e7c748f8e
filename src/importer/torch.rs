//! What the importer understands of torch's pickled objects: storage persistent ids, the tensor
//! rebuild functions, element types, and the few builtins that need a real value.

use std::rc::Rc;

use super::error::ImportError;
use super::value::Value;

/// Element type of a storage or tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Dtype {
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// IEEE half.
    F16,
    /// bfloat16.
    BF16,
    /// An integer or boolean type of the given byte width (never converted, only skipped).
    Integer(&'static str, usize),
    /// A type with a known width that cannot be converted to f32 (complex numbers).
    Unconvertible(&'static str, usize),
    /// A type the importer does not know at all.
    Unknown(String),
}

impl Dtype {
    /// Bytes per element, if known.
    pub fn size(&self) -> Option<usize> {
        match self {
            Dtype::F32 => Some(4),
            Dtype::F64 => Some(8),
            Dtype::F16 | Dtype::BF16 => Some(2),
            Dtype::Integer(_, size) | Dtype::Unconvertible(_, size) => Some(*size),
            Dtype::Unknown(_) => None,
        }
    }

    /// A name for messages.
    pub fn name(&self) -> String {
        match self {
            Dtype::F32 => "float32".into(),
            Dtype::F64 => "float64".into(),
            Dtype::F16 => "float16".into(),
            Dtype::BF16 => "bfloat16".into(),
            Dtype::Integer(name, _) | Dtype::Unconvertible(name, _) => (*name).into(),
            Dtype::Unknown(name) => name.clone(),
        }
    }

    /// The type a legacy storage class such as `FloatStorage` holds.
    /// `None` for untyped storages, whose numel counts bytes.
    fn from_storage_class(name: &str) -> Option<Dtype> {
        let dtype = match name {
            "UntypedStorage" | "TypedStorage" | "ByteStorageUntyped" => return None,
            "FloatStorage" => Dtype::F32,
            "DoubleStorage" => Dtype::F64,
            "HalfStorage" => Dtype::F16,
            "BFloat16Storage" => Dtype::BF16,
            "LongStorage" => Dtype::Integer("int64", 8),
            "IntStorage" => Dtype::Integer("int32", 4),
            "ShortStorage" => Dtype::Integer("int16", 2),
            "CharStorage" => Dtype::Integer("int8", 1),
            "ByteStorage" => Dtype::Integer("uint8", 1),
            "BoolStorage" => Dtype::Integer("bool", 1),
            "ComplexFloatStorage" => Dtype::Unconvertible("complex64", 8),
            "ComplexDoubleStorage" => Dtype::Unconvertible("complex128", 16),
            other => Dtype::Unknown(other.into()),
        };
        Some(dtype)
    }

    /// The type a `torch.<dtype>` global such as `torch.float32` names.
    fn from_dtype_name(name: &str) -> Dtype {
        match name {
            "float32" | "float" => Dtype::F32,
            "float64" | "double" => Dtype::F64,
            "float16" | "half" => Dtype::F16,
            "bfloat16" => Dtype::BF16,
            "int64" | "long" => Dtype::Integer("int64", 8),
            "int32" | "int" => Dtype::Integer("int32", 4),
            "int16" | "short" => Dtype::Integer("int16", 2),
            "int8" => Dtype::Integer("int8", 1),
            "uint8" => Dtype::Integer("uint8", 1),
            "bool" => Dtype::Integer("bool", 1),
            "complex64" | "cfloat" => Dtype::Unconvertible("complex64", 8),
            "complex128" | "cdouble" => Dtype::Unconvertible("complex128", 16),
            other => Dtype::Unknown(other.into()),
        }
    }
}

/// A storage named by a persistent id `('storage', type, key, location, numel[, view])`.
pub(crate) struct StorageRef {
    /// The key under which the storage's bytes are saved.
    pub key: String,
    /// Element type; `None` for untyped storages (the tensor then names its dtype).
    pub dtype: Option<Dtype>,
    /// Element offset of a legacy storage view inside its root storage.
    pub view_offset: usize,
}

/// A tensor: shape, strides and offset into a storage. Its data is only read on demand.
pub(crate) struct TensorRef {
    /// The storage it views.
    pub storage: Rc<StorageRef>,
    /// Offset of element 0, in elements, from the start of the root storage.
    pub offset: usize,
    /// Shape.
    pub size: Vec<usize>,
    /// Strides, in elements.
    pub stride: Vec<usize>,
    /// Element type.
    pub dtype: Dtype,
}

/// Interprets a persistent id. Storage ids become [`Value::Storage`]; any other kind (the legacy
/// format's 4-field `('module', class, file, source)`) is kept as an opaque tuple.
pub(crate) fn persistent_storage(pid: Value) -> Result<Value, ImportError> {
    let Value::Tuple(fields) = &pid else {
        return Ok(pid);
    };
    if fields.first().and_then(Value::as_str) != Some("storage") {
        return Ok(pid);
    }
    let bad = || ImportError::corrupt("a tensor storage reference is malformed");
    let class = match fields.get(1) {
        Some(Value::Global(global)) => global.name.clone(),
        Some(Value::Str(name)) => name.to_string(),
        _ => return Err(bad()),
    };
    let key = match fields.get(2) {
        Some(Value::Str(key)) => key.to_string(),
        Some(Value::Int(key)) => key.to_string(),
        _ => return Err(bad()),
    };
    // Legacy view metadata: (view_key, offset, view_size).
    let view_offset = match fields.get(5).and_then(Value::sequence) {
        Some(view) => to_usize(view.get(1)).ok_or_else(bad)?,
        None => 0,
    };
    let storage = StorageRef {
        key,
        dtype: Dtype::from_storage_class(&class),
        view_offset,
    };
    Ok(Value::Storage(Rc::new(storage)))
}

/// REDUCE / NEWOBJ: "calls" `callable` with `args`.
///
/// Tensor rebuild functions, `OrderedDict`, `set`, `torch.Size` and `_codecs.encode` give real
/// values; any other callable gives a generic object.
pub(crate) fn reduce(callable: Value, args: Value) -> Result<Value, ImportError> {
    let Value::Global(global) = &callable else {
        return Ok(Value::new_object(callable, args));
    };
    let items = args.sequence().unwrap_or_default();
    let value = match (global.module.as_str(), global.name.as_str()) {
        ("collections", "OrderedDict") | ("builtins" | "__builtin__", "dict") => {
            let pairs = items.first().and_then(Value::sequence).unwrap_or_default();
            let pairs = pairs.iter().filter_map(Value::sequence).filter_map(|pair| {
                let mut pair = pair.into_iter();
                Some((pair.next()?, pair.next()?))
            });
            Value::new_dict(pairs.collect())
        }
        ("builtins" | "__builtin__", "set" | "frozenset") => {
            Value::new_set(items.first().and_then(Value::sequence).unwrap_or_default())
        }
        ("torch", "Size") => {
            Value::new_tuple(items.first().and_then(Value::sequence).unwrap_or_default())
        }
        ("_codecs", "encode") => match items.first() {
            // Python 3 `bytes` pickled with protocol 2: `_codecs.encode(text, 'latin1')`.
            Some(Value::Str(text)) => Value::Bytes(Rc::new(text.chars().map(latin1).collect())),
            _ => Value::new_object(callable, args),
        },
        ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => {
            items.into_iter().next().unwrap_or(Value::None)
        }
        ("torch._utils", "_rebuild_tensor" | "_rebuild_tensor_v2" | "_rebuild_tensor_v3") => {
            rebuild_tensor(&global.name, &items)?
        }
        _ => Value::new_object(callable, args),
    };
    Ok(value)
}

/// Builds a [`TensorRef`] from `(storage, storage_offset, size, stride, ...)`; `_v3` also
/// carries the dtype at position 6.
fn rebuild_tensor(function: &str, args: &[Value]) -> Result<Value, ImportError> {
    let bad =
        |what: &str| ImportError::corrupt(format!("a tensor description is malformed ({what})"));
    let Some(Value::Storage(storage)) = args.first() else {
        return Err(bad("no storage"));
    };
    let offset = to_usize(args.get(1)).ok_or_else(|| bad("offset"))?;
    let size = to_usizes(args.get(2)).ok_or_else(|| bad("size"))?;
    let stride = to_usizes(args.get(3)).ok_or_else(|| bad("stride"))?;
    if size.len() != stride.len() {
        return Err(bad("size and stride differ in length"));
    }
    let explicit = match (function, args.get(6)) {
        ("_rebuild_tensor_v3", Some(Value::Global(global))) => {
            Some(Dtype::from_dtype_name(&global.name))
        }
        _ => None,
    };
    let dtype = explicit
        .or_else(|| storage.dtype.clone())
        .ok_or_else(|| bad("no dtype"))?;
    let offset = offset
        .checked_add(storage.view_offset)
        .ok_or_else(|| bad("offset"))?;
    let tensor = TensorRef {
        storage: Rc::clone(storage),
        offset,
        size,
        stride,
        dtype,
    };
    Ok(Value::Tensor(Rc::new(tensor)))
}

/// A non-negative integer argument.
fn to_usize(value: Option<&Value>) -> Option<usize> {
    usize::try_from(value?.as_int()?).ok()
}

/// A tuple or list of non-negative integers.
fn to_usizes(value: Option<&Value>) -> Option<Vec<usize>> {
    value?
        .sequence()?
        .iter()
        .map(|item| to_usize(Some(item)))
        .collect()
}

/// A latin-1 character as a byte (code points above 255 cannot occur in such strings).
fn latin1(c: char) -> u8 {
    u8::try_from(u32::from(c)).unwrap_or(b'?')
}
