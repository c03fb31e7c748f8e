//! The values the pickle reader builds: Python's containers, plus the two torch objects the
//! importer understands (storages and tensors) and a generic object for everything else.
//!
//! Containers are shared and mutable (`Rc<RefCell<..>>`) because pickle memoises a container
//! before it fills it, and a later reference must see the filled container.

use std::cell::RefCell;
use std::rc::Rc;

use super::error::ImportError;
use super::pickle::bad;
use super::torch::{StorageRef, TensorRef};

/// A mutable container shared between the pickle stack, the memo and other containers.
pub(crate) type Shared<T> = Rc<RefCell<T>>;

/// One unpickled Python value.
#[derive(Clone)]
pub(crate) enum Value {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A larger integer, as little-endian two's complement bytes (e.g. torch's magic number).
    BigInt(Rc<Vec<u8>>),
    /// A float.
    Float(f64),
    /// A text string.
    Str(Rc<str>),
    /// A byte string (kept for completeness; no checkpoint entry the importer reads needs it).
    #[allow(dead_code)]
    Bytes(Rc<Vec<u8>>),
    /// A tuple (immutable once built).
    Tuple(Rc<Vec<Value>>),
    /// A list.
    List(Shared<Vec<Value>>),
    /// A dict or `OrderedDict`, in insertion order; keys may be any value (tuples included).
    Dict(Shared<Vec<(Value, Value)>>),
    /// A set or frozenset.
    Set(Shared<Vec<Value>>),
    /// A reference to a module-level name, e.g. `torch.FloatStorage`.
    Global(Rc<Global>),
    /// An instance of a class the importer does not know (e.g. the anchor generator).
    Object(Shared<Object>),
    /// A torch storage named by a persistent id.
    Storage(Rc<StorageRef>),
    /// A torch tensor: a view into a storage (its data is read later, only if needed).
    Tensor(Rc<TensorRef>),
}

/// A `module.name` reference written by the GLOBAL or STACK_GLOBAL opcodes.
pub(crate) struct Global {
    /// The module path, e.g. `torch._utils`.
    pub module: String,
    /// The name inside the module, e.g. `_rebuild_tensor_v2`.
    pub name: String,
}

/// A generic object: what calling or instantiating an unknown class produced.
pub(crate) struct Object {
    /// The class or callable (usually a [`Value::Global`]).
    pub class: Value,
    /// The arguments it was called with.
    pub args: Value,
    /// The state given by BUILD (usually the instance `__dict__`).
    pub state: Option<Value>,
    /// Items added by SETITEM(S), for dict subclasses.
    pub dict_items: Vec<(Value, Value)>,
    /// Items added by APPEND(S), for list subclasses.
    pub list_items: Vec<Value>,
}

impl Value {
    /// A new empty dict.
    pub fn new_dict(items: Vec<(Value, Value)>) -> Self {
        Value::Dict(Rc::new(RefCell::new(items)))
    }

    /// A new list.
    pub fn new_list(items: Vec<Value>) -> Self {
        Value::List(Rc::new(RefCell::new(items)))
    }

    /// A new set.
    pub fn new_set(items: Vec<Value>) -> Self {
        Value::Set(Rc::new(RefCell::new(items)))
    }

    /// A new tuple.
    pub fn new_tuple(items: Vec<Value>) -> Self {
        Value::Tuple(Rc::new(items))
    }

    /// A new generic object.
    pub fn new_object(class: Value, args: Value) -> Self {
        Value::Object(Rc::new(RefCell::new(Object {
            class,
            args,
            state: None,
            dict_items: Vec::new(),
            list_items: Vec::new(),
        })))
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(text) => Some(text),
            _ => None,
        }
    }

    /// The integer, if this is one that fits in 64 bits.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(value) => Some(*value),
            Value::Bool(value) => Some(i64::from(*value)),
            _ => None,
        }
    }

    /// The elements of a tuple or list (copied out, so no borrow is held).
    pub fn sequence(&self) -> Option<Vec<Value>> {
        match self {
            Value::Tuple(items) => Some(items.as_ref().clone()),
            Value::List(items) => Some(items.borrow().clone()),
            _ => None,
        }
    }

    /// The key/value pairs of a dict, or of a dict-like generic object that received items.
    pub fn dict_items(&self) -> Option<Vec<(Value, Value)>> {
        match self {
            Value::Dict(items) => Some(items.borrow().clone()),
            Value::Object(object) => {
                let object = object.borrow();
                (!object.dict_items.is_empty()).then(|| object.dict_items.clone())
            }
            _ => None,
        }
    }

    /// A short text for scalar values (for checkpoint metadata); `None` for containers.
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::None => Some("None".into()),
            Value::Bool(value) => Some(if *value { "True" } else { "False" }.into()),
            Value::Int(value) => Some(value.to_string()),
            Value::Float(value) => Some(format!("{value:?}")),
            Value::Str(text) => Some(text.to_string()),
            _ => None,
        }
    }
}

/// Groups a flat key, value, key, value... list into pairs.
pub(crate) fn pairs(items: Vec<Value>) -> Result<Vec<(Value, Value)>, ImportError> {
    if !items.len().is_multiple_of(2) {
        return Err(bad("odd number of dict items"));
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut iter = items.into_iter();
    while let (Some(key), Some(value)) = (iter.next(), iter.next()) {
        out.push((key, value));
    }
    Ok(out)
}

/// APPEND(S)/ADDITEMS: adds items to a list, set or list-like object.
pub(crate) fn append(target: &Value, items: Vec<Value>) -> Result<(), ImportError> {
    match target {
        Value::List(list) | Value::Set(list) => list.borrow_mut().extend(items),
        Value::Object(object) => object.borrow_mut().list_items.extend(items),
        _ => return Err(bad("APPEND to something that is not a list")),
    }
    Ok(())
}

/// SETITEM(S): adds pairs to a dict or dict-like object.
pub(crate) fn set_items(target: &Value, items: Vec<(Value, Value)>) -> Result<(), ImportError> {
    match target {
        Value::Dict(dict) => dict.borrow_mut().extend(items),
        Value::Object(object) => object.borrow_mut().dict_items.extend(items),
        _ => return Err(bad("SETITEM on something that is not a dict")),
    }
    Ok(())
}

/// Empties every container reachable from `roots` without recursion.
///
/// Dropping a deeply nested value recursively could overflow the stack on a hostile file, and
/// reference cycles would never be freed; draining each container into a work list avoids both.
pub(crate) fn dismantle(roots: impl IntoIterator<Item = Value>) {
    let mut work: Vec<Value> = roots.into_iter().collect();
    while let Some(value) = work.pop() {
        match value {
            Value::Tuple(items) => {
                if let Ok(items) = Rc::try_unwrap(items) {
                    work.extend(items);
                }
            }
            Value::List(items) | Value::Set(items) => work.append(&mut items.borrow_mut()),
            Value::Dict(items) => {
                for (key, item) in items.borrow_mut().drain(..) {
                    work.push(key);
                    work.push(item);
                }
            }
            Value::Object(object) => {
                let mut object = object.borrow_mut();
                work.push(std::mem::replace(&mut object.class, Value::None));
                work.push(std::mem::replace(&mut object.args, Value::None));
                work.extend(object.state.take());
                work.append(&mut object.list_items);
                for (key, item) in object.dict_items.drain(..) {
                    work.push(key);
                    work.push(item);
                }
            }
            _ => {}
        }
    }
}
