//! The executable's ELF symbol table (`.symtab`): name → symbol and
//! address → containing symbol.
//!
//! Owns: reading symbols only. Stripped executables simply have an empty
//! table; everything that must work on them (function names, file:line)
//! comes from [`crate::pclntab`] instead. Dynamic symbols (`.dynsym`) are not
//! read: Go puts nothing of interest there.

use std::collections::HashMap;

use object::{Object, ObjectSection, ObjectSymbol, SectionIndex, SymbolKind, SymbolSection};

/// Errors while opening the executable for its symbols.
#[derive(Debug, thiserror::Error)]
pub enum SymbolError {
    #[error("not a readable object file: {0}")]
    Object(#[from] object::Error),
}

/// What a symbol names, coarse like the letter `go tool nm` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SymbolClass {
    /// In an executable section (`T`/`t`).
    Text,
    /// In a read-only allocated section (`R`/`r`).
    ReadOnlyData,
    /// In a writable allocated section with file bytes (`D`/`d`).
    Data,
    /// In a writable section without file bytes, or common (`B`/`b`).
    Bss,
    /// Undefined (`U`).
    Undefined,
    /// Anything else (`?`).
    Other,
}

/// One symbol. The name borrows the executable's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbol<'a> {
    pub name: &'a str,
    pub address: u64,
    pub size: u64,
    pub class: SymbolClass,
    /// `STB_LOCAL` binding.
    pub local: bool,
}

impl Symbol<'_> {
    /// The one-letter code `go tool nm` prints for this symbol.
    pub fn nm_code(&self) -> char {
        let upper = match self.class {
            SymbolClass::Text => 'T',
            SymbolClass::ReadOnlyData => 'R',
            SymbolClass::Data => 'D',
            SymbolClass::Bss => 'B',
            SymbolClass::Undefined => 'U',
            SymbolClass::Other => '?',
        };
        if self.local && upper != '?' {
            upper.to_ascii_lowercase()
        } else {
            upper
        }
    }

    /// Whether `address` lies inside this symbol (or equals it when the
    /// symbol has no size).
    pub fn contains(&self, address: u64) -> bool {
        if self.size == 0 {
            address == self.address
        } else {
            address >= self.address && address - self.address < self.size
        }
    }
}

/// All named symbols of `.symtab`, indexed by name and by address.
#[derive(Debug, Clone, Default)]
pub struct SymbolTable<'a> {
    /// Sorted by address, then by name.
    by_address: Vec<Symbol<'a>>,
    /// First symbol with a given name (Go names are unique in practice).
    by_name: HashMap<&'a str, usize>,
}

impl<'a> SymbolTable<'a> {
    /// Reads the symbol table of the executable `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, SymbolError> {
        let file = object::File::parse(bytes)?;
        Ok(Self::from_object(&file))
    }

    /// Reads the symbol table of an already parsed object file. A missing
    /// table gives an empty result.
    pub fn from_object(file: &object::File<'a>) -> Self {
        // Section flags decide the class, as `go tool nm` does.
        let mut section_class: HashMap<SectionIndex, SymbolClass> = HashMap::new();
        for section in file.sections() {
            let class = match section.flags() {
                object::SectionFlags::Elf { sh_flags } => {
                    const WRITE: u64 = 1;
                    const ALLOC: u64 = 2;
                    const EXEC: u64 = 4;
                    match sh_flags & (WRITE | ALLOC | EXEC) {
                        f if f == ALLOC | EXEC => SymbolClass::Text,
                        f if f == ALLOC => SymbolClass::ReadOnlyData,
                        f if f == ALLOC | WRITE => {
                            if section.kind() == object::SectionKind::UninitializedData {
                                SymbolClass::Bss
                            } else {
                                SymbolClass::Data
                            }
                        }
                        _ => SymbolClass::Other,
                    }
                }
                _ => SymbolClass::Other,
            };
            section_class.insert(section.index(), class);
        }

        let mut by_address = Vec::new();
        for symbol in file.symbols() {
            if matches!(symbol.kind(), SymbolKind::Section | SymbolKind::File) {
                continue;
            }
            let Ok(name) = symbol.name() else { continue };
            if name.is_empty() {
                continue;
            }
            let class = match symbol.section() {
                SymbolSection::Undefined => SymbolClass::Undefined,
                SymbolSection::Common => SymbolClass::Bss,
                SymbolSection::Section(index) => section_class
                    .get(&index)
                    .copied()
                    .unwrap_or(SymbolClass::Other),
                _ => SymbolClass::Other,
            };
            by_address.push(Symbol {
                name,
                address: symbol.address(),
                size: symbol.size(),
                class,
                local: symbol.is_local(),
            });
        }
        by_address.sort_by(|a, b| a.address.cmp(&b.address).then(a.name.cmp(b.name)));
        let mut by_name = HashMap::with_capacity(by_address.len());
        for (index, symbol) in by_address.iter().enumerate() {
            by_name.entry(symbol.name).or_insert(index);
        }
        SymbolTable {
            by_address,
            by_name,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_address.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_address.len()
    }

    /// All symbols, sorted by address.
    pub fn iter(&self) -> impl Iterator<Item = &Symbol<'a>> + '_ {
        self.by_address.iter()
    }

    /// The symbol called `name`.
    pub fn lookup(&self, name: &str) -> Option<&Symbol<'a>> {
        self.by_name
            .get(name)
            .and_then(|&index| self.by_address.get(index))
    }

    /// Address of the symbol called `name`.
    pub fn address_of(&self, name: &str) -> Option<u64> {
        self.lookup(name).map(|s| s.address)
    }

    /// The defined symbol containing `address`: among symbols starting at
    /// or before it, the closest one whose size covers it (a zero-size
    /// symbol only matches its own address).
    pub fn symbol_at(&self, address: u64) -> Option<&Symbol<'a>> {
        let end = self.by_address.partition_point(|s| s.address <= address);
        // Sizes rarely overlap, so a short bounded scan back finds the
        // container without walking the whole table.
        self.by_address[..end]
            .iter()
            .rev()
            .take(64)
            .find(|s| s.class != SymbolClass::Undefined && s.contains(address))
    }
}
