//! A bounds-checked cursor over the input bytes. Running past the end is
//! [`ImportError::Truncated`]: every length read from a file is checked against what remains.

use super::error::ImportError;

/// The unread part of a byte slice.
pub(crate) struct Input<'a> {
    data: &'a [u8],
    /// Offset of the next unread byte.
    pub pos: usize,
}

impl<'a> Input<'a> {
    /// A cursor at `pos` in `data`.
    pub fn new(data: &'a [u8], pos: usize) -> Self {
        Self { data, pos }
    }

    /// Reads one byte.
    pub fn byte(&mut self) -> Result<u8, ImportError> {
        let byte = *self.data.get(self.pos).ok_or(ImportError::Truncated)?;
        self.pos += 1;
        Ok(byte)
    }

    /// Reads `len` bytes; a length past the end of the file means the file is truncated.
    pub fn take(&mut self, len: usize) -> Result<&'a [u8], ImportError> {
        let end = self.pos.checked_add(len).ok_or(ImportError::Truncated)?;
        let bytes = self.data.get(self.pos..end).ok_or(ImportError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    /// Reads a fixed number of bytes.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], ImportError> {
        let bytes = self.take(N)?;
        <[u8; N]>::try_from(bytes).map_err(|_| ImportError::Truncated)
    }

    /// Reads a 4-byte little-endian length.
    pub fn len_u32(&mut self) -> Result<usize, ImportError> {
        usize::try_from(u32::from_le_bytes(self.array()?)).map_err(|_| ImportError::Truncated)
    }

    /// Reads an 8-byte little-endian length.
    pub fn len_u64(&mut self) -> Result<usize, ImportError> {
        usize::try_from(u64::from_le_bytes(self.array()?)).map_err(|_| ImportError::Truncated)
    }

    /// Reads a newline-terminated ASCII line (protocol 0 arguments, GLOBAL names).
    pub fn line(&mut self) -> Result<&'a str, ImportError> {
        let rest = self.data.get(self.pos..).ok_or(ImportError::Truncated)?;
        let len = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(ImportError::Truncated)?;
        let line = self.take(len + 1)?;
        let line = line.get(..len).unwrap_or_default();
        std::str::from_utf8(line)
            .map_err(|_| ImportError::corrupt("unreadable Python data (non-text line)"))
    }
}
