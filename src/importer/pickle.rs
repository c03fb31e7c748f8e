//! A minimal pickle virtual machine: enough of protocols 0–5 to read what `torch.save` writes.
//!
//! It never imports or runs anything. Classes it does not know (the authors' anchor generator,
//! `torch.Size`, ...) become generic [`Value::Object`]s; only the torch tensor rebuild functions
//! and a few builtins are interpreted (see [`super::torch::reduce`]). Persistent ids are handed
//! to a callback, which turns storage ids into [`Value::Storage`].
//!
//! Every length read from the file is checked against the bytes that remain, so a hostile
//! length can never make it allocate more than the file holds.

use std::collections::HashMap;
use std::rc::Rc;

use super::error::ImportError;
use super::input::Input;
use super::torch;
use super::value::{Global, Value, append, dismantle, pairs, set_items};

/// Reads one pickle from `data` starting at `start`.
///
/// Returns the unpickled value and the offset just past its STOP opcode. `persistent_load`
/// receives the value of each persistent id (BINPERSID / PERSID) and returns what replaces it.
pub(crate) fn load(
    data: &[u8],
    start: usize,
    persistent_load: &mut dyn FnMut(Value) -> Result<Value, ImportError>,
) -> Result<(Pickled, usize), ImportError> {
    let mut machine = Machine {
        input: Input::new(data, start),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        spill: Vec::new(),
        persistent_load,
    };
    let root = machine.run()?;
    let mut rest: Vec<Value> = machine.memo.drain().map(|(_, value)| value).collect();
    rest.append(&mut machine.stack);
    rest.append(&mut machine.spill);
    Ok((Pickled { root, rest }, machine.input.pos))
}

/// An unpickled value. Dropping it empties its containers iteratively (see [`dismantle`]).
pub(crate) struct Pickled {
    /// The value the pickle produced.
    pub root: Value,
    /// Memoised values that may share containers with `root`.
    rest: Vec<Value>,
}

impl Drop for Pickled {
    fn drop(&mut self) {
        let root = std::mem::replace(&mut self.root, Value::None);
        dismantle(std::iter::once(root).chain(self.rest.drain(..)));
    }
}

/// The unpickler's state: input cursor, stack, mark positions and memo.
struct Machine<'a, 'p> {
    input: Input<'a>,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    spill: Vec<Value>,
    persistent_load: &'p mut dyn FnMut(Value) -> Result<Value, ImportError>,
}

impl Drop for Machine<'_, '_> {
    fn drop(&mut self) {
        let memo = self.memo.drain().map(|(_, value)| value);
        dismantle(self.stack.drain(..).chain(memo).chain(self.spill.drain(..)));
    }
}

impl Machine<'_, '_> {
    /// Executes opcodes until STOP and returns the top of the stack.
    fn run(&mut self) -> Result<Value, ImportError> {
        loop {
            let opcode = self.input.byte()?;
            if opcode == b'.' {
                return self.pop();
            }
            self.step(opcode)?;
        }
    }

    /// Executes one opcode other than STOP.
    fn step(&mut self, opcode: u8) -> Result<(), ImportError> {
        match opcode {
            0x80 => drop(self.input.byte()?),          // PROTO
            0x95 => drop(self.input.take(8)?),         // FRAME: framing is irrelevant in memory
            b'(' => self.marks.push(self.stack.len()), // MARK
            b'0' => drop(self.pop()?),                 // POP
            b'1' => drop(self.pop_mark()?),            // POP_MARK
            b'2' => {
                let top = self.pop()?;
                self.stack.push(top.clone());
                self.stack.push(top);
            }
            b'N' => self.stack.push(Value::None),
            0x88 => self.stack.push(Value::Bool(true)),
            0x89 => self.stack.push(Value::Bool(false)),
            b'J' => {
                let value = i32::from_le_bytes(self.input.array()?);
                self.stack.push(Value::Int(i64::from(value)));
            }
            b'K' => {
                let value = self.input.byte()?;
                self.stack.push(Value::Int(i64::from(value)));
            }
            b'M' => {
                let value = u16::from_le_bytes(self.input.array()?);
                self.stack.push(Value::Int(i64::from(value)));
            }
            0x8a => {
                let len = usize::from(self.input.byte()?);
                self.push_long(len)?;
            }
            0x8b => {
                let len = self.input.len_u32()?;
                self.push_long(len)?;
            }
            b'I' | b'L' => self.push_text_int()?,
            b'G' => {
                let value = f64::from_be_bytes(self.input.array()?);
                self.stack.push(Value::Float(value));
            }
            b'F' => {
                let line = self.input.line()?;
                let value = line.trim().parse().map_err(|_| bad("malformed float"))?;
                self.stack.push(Value::Float(value));
            }
            b'X' => {
                let len = self.input.len_u32()?;
                self.push_unicode(len)?;
            }
            0x8c => {
                let len = usize::from(self.input.byte()?);
                self.push_unicode(len)?;
            }
            0x8d => {
                let len = self.input.len_u64()?;
                self.push_unicode(len)?;
            }
            b'T' | b'U' => {
                // Python 2 `str`: bytes whose meaning is text in practice.
                let len = if opcode == b'T' {
                    self.input.len_u32()?
                } else {
                    usize::from(self.input.byte()?)
                };
                let text = String::from_utf8_lossy(self.input.take(len)?).into_owned();
                self.stack.push(Value::Str(text.into()));
            }
            b'B' | b'C' | 0x8e | 0x96 => {
                let len = match opcode {
                    b'B' => self.input.len_u32()?,
                    b'C' => usize::from(self.input.byte()?),
                    _ => self.input.len_u64()?,
                };
                let bytes = self.input.take(len)?.to_vec();
                self.stack.push(Value::Bytes(bytes.into()));
            }
            b'}' => self.stack.push(Value::new_dict(Vec::new())),
            b']' => self.stack.push(Value::new_list(Vec::new())),
            b')' => self.stack.push(Value::new_tuple(Vec::new())),
            0x8f => self.stack.push(Value::new_set(Vec::new())),
            b'd' => {
                let items = pairs(self.pop_mark()?)?;
                self.stack.push(Value::new_dict(items));
            }
            b'l' => {
                let items = self.pop_mark()?;
                self.stack.push(Value::new_list(items));
            }
            b't' => {
                let items = self.pop_mark()?;
                self.stack.push(Value::new_tuple(items));
            }
            0x91 => {
                let items = self.pop_mark()?;
                self.stack.push(Value::new_set(items));
            }
            0x85..=0x87 => {
                let count = usize::from(opcode - 0x84);
                let split = self.stack.len().checked_sub(count).ok_or_else(underflow)?;
                self.check_above_mark(split)?;
                let items = self.stack.split_off(split);
                self.stack.push(Value::new_tuple(items));
            }
            b'a' => {
                let item = self.pop()?;
                append(self.top()?, vec![item])?;
            }
            b'e' | 0x90 => {
                let items = self.pop_mark()?;
                append(self.top()?, items)?;
            }
            b's' => {
                let value = self.pop()?;
                let key = self.pop()?;
                set_items(self.top()?, vec![(key, value)])?;
            }
            b'u' => {
                let items = pairs(self.pop_mark()?)?;
                set_items(self.top()?, items)?;
            }
            b'c' => {
                let module = self.input.line()?.to_owned();
                let name = self.input.line()?.to_owned();
                self.push_global(module, name);
            }
            0x93 => {
                let name = self.pop()?;
                let module = self.pop()?;
                match (module.as_str(), name.as_str()) {
                    (Some(module), Some(name)) => self.push_global(module.into(), name.into()),
                    _ => return Err(bad("STACK_GLOBAL needs two strings")),
                }
            }
            b'R' | 0x81 => {
                let args = self.pop()?;
                let callable = self.pop()?;
                let value = torch::reduce(callable, args)?;
                self.stack.push(value);
            }
            0x92 => {
                let _kwargs = self.pop()?;
                let args = self.pop()?;
                let class = self.pop()?;
                let value = torch::reduce(class, args)?;
                self.stack.push(value);
            }
            b'b' => {
                let state = self.pop()?;
                if let Value::Object(object) = self.top()? {
                    object.borrow_mut().state = Some(state);
                }
            }
            b'q' => {
                let index = u32::from(self.input.byte()?);
                self.memoize(index)?;
            }
            b'r' => {
                let index = u32::from_le_bytes(self.input.array()?);
                self.memoize(index)?;
            }
            0x94 => {
                let index = u32::try_from(self.memo.len()).map_err(|_| bad("memo too large"))?;
                self.memoize(index)?;
            }
            b'p' => {
                let index = self
                    .input
                    .line()?
                    .trim()
                    .parse()
                    .map_err(|_| bad("malformed PUT"))?;
                self.memoize(index)?;
            }
            b'h' => {
                let index = u32::from(self.input.byte()?);
                self.recall(index)?;
            }
            b'j' => {
                let index = u32::from_le_bytes(self.input.array()?);
                self.recall(index)?;
            }
            b'g' => {
                let index = self
                    .input
                    .line()?
                    .trim()
                    .parse()
                    .map_err(|_| bad("malformed GET"))?;
                self.recall(index)?;
            }
            b'Q' => {
                let pid = self.pop()?;
                let value = (self.persistent_load)(pid)?;
                self.stack.push(value);
            }
            b'P' => {
                let pid = Value::Str(self.input.line()?.into());
                let value = (self.persistent_load)(pid)?;
                self.stack.push(value);
            }
            other => return Err(bad(&format!("unsupported pickle opcode 0x{other:02x}"))),
        }
        Ok(())
    }

    /// Pushes a LONG1/LONG4 integer of `len` little-endian two's complement bytes.
    fn push_long(&mut self, len: usize) -> Result<(), ImportError> {
        let bytes = self.input.take(len)?;
        let value = if len <= 8 {
            let negative = bytes.last().is_some_and(|&b| b & 0x80 != 0);
            let mut buffer = if negative { [0xff; 8] } else { [0; 8] };
            buffer
                .iter_mut()
                .zip(bytes)
                .for_each(|(slot, &b)| *slot = b);
            Value::Int(i64::from_le_bytes(buffer))
        } else {
            Value::BigInt(bytes.to_vec().into())
        };
        self.stack.push(value);
        Ok(())
    }

    /// Pushes a protocol-0 INT or LONG (`I01\n` is `True`, `I00\n` is `False`).
    fn push_text_int(&mut self) -> Result<(), ImportError> {
        let line = self.input.line()?.trim().trim_end_matches('L');
        let value = match line {
            "01" => Value::Bool(true),
            "00" => Value::Bool(false),
            text => Value::Int(text.parse().map_err(|_| bad("malformed integer"))?),
        };
        self.stack.push(value);
        Ok(())
    }

    /// Pushes a UTF-8 string of `len` bytes.
    fn push_unicode(&mut self, len: usize) -> Result<(), ImportError> {
        let bytes = self.input.take(len)?;
        let text: Rc<str> = std::str::from_utf8(bytes)
            .map_err(|_| bad("invalid UTF-8 string"))?
            .into();
        self.stack.push(Value::Str(text));
        Ok(())
    }

    /// Pushes a `module.name` reference.
    fn push_global(&mut self, module: String, name: String) {
        self.stack
            .push(Value::Global(Global { module, name }.into()));
    }

    /// Pops the top of the stack, refusing to cross the innermost mark.
    fn pop(&mut self) -> Result<Value, ImportError> {
        self.check_above_mark(self.stack.len().saturating_sub(1))?;
        self.stack.pop().ok_or_else(underflow)
    }

    /// The top of the stack, without popping it.
    fn top(&self) -> Result<&Value, ImportError> {
        self.stack.last().ok_or_else(underflow)
    }

    /// Errors when position `index` lies below the innermost mark.
    fn check_above_mark(&self, index: usize) -> Result<(), ImportError> {
        match self.marks.last() {
            Some(&mark) if index < mark => Err(underflow()),
            _ => Ok(()),
        }
    }

    /// Pops everything above the innermost mark, and the mark.
    fn pop_mark(&mut self) -> Result<Vec<Value>, ImportError> {
        let mark = self.marks.pop().ok_or_else(|| bad("missing MARK"))?;
        if mark > self.stack.len() {
            return Err(underflow());
        }
        Ok(self.stack.split_off(mark))
    }

    /// Stores the top of the stack in the memo.
    fn memoize(&mut self, index: u32) -> Result<(), ImportError> {
        let top = self.top()?.clone();
        if let Some(old) = self.memo.insert(index, top) {
            // Replaced entries may still be in use; keep them until the machine is dropped.
            self.spill.push(old);
        }
        Ok(())
    }

    /// Pushes a memoised value.
    fn recall(&mut self, index: u32) -> Result<(), ImportError> {
        let value = self
            .memo
            .get(&index)
            .ok_or_else(|| bad("reference to unknown memo"))?;
        self.stack.push(value.clone());
        Ok(())
    }
}

/// A [`ImportError::Corrupt`] about the pickled data.
pub(crate) fn bad(what: &str) -> ImportError {
    ImportError::corrupt(format!("unreadable Python data ({what})"))
}

/// The error for popping an empty stack.
fn underflow() -> ImportError {
    bad("stack underflow")
}
