//! Where a variable lives: the few DWARF expression shapes the Go compiler
//! emits, decoded into [`Location`]. Anything else is `Unsupported`, never a
//! guess.
//!
//! Go forms seen in 1.21–1.27 (amd64): `DW_OP_addr A` (globals),
//! `DW_OP_call_frame_cfa` (+ `DW_OP_consts N DW_OP_plus` or
//! `DW_OP_plus_uconst N`), `DW_OP_fbreg N` (frame base = CFA),
//! `DW_OP_regN`, and `DW_OP_piece` sequences for multi-word values
//! (strings, slices, interfaces split over registers and stack slots).

use gimli::{Encoding, Expression, Operation, Reader, ReaderOffset};

/// Bound on operations decoded from one expression.
const MAX_OPERATIONS: usize = 256;
/// Bound on pieces of one composite location.
const MAX_PIECES: usize = 64;

/// A decoded variable location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A static address (as linked; add the load bias for PIE executables).
    Address(u64),
    /// In memory at CFA + offset. The CFA of a Go frame is the caller's SP
    /// after the call, i.e. the callee's SP at entry + pointer size.
    FrameOffset(i64),
    /// In a register (DWARF register number; amd64: 0 rax, 1 rdx, 2 rcx,
    /// 3 rbx, 4 rsi, 5 rdi, 6 rbp, 7 rsp, 8–15 r8–r15).
    Register(u16),
    /// In memory at register + offset (`DW_OP_bregN`).
    RegisterOffset { register: u16, offset: i64 },
    /// A value split into pieces, in order (e.g. a string's pointer and
    /// length in two registers).
    Pieces(Vec<Piece>),
    /// The value is not available here (empty expression: optimized out).
    Unavailable,
    /// An expression shape this decoder does not understand.
    Unsupported,
}

/// One part of a composite location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    /// Size of the piece in bytes.
    pub size: u64,
    /// Never `Pieces` itself.
    pub location: Location,
}

/// Decodes one DWARF expression. `frame_base_is_cfa` says whether
/// `DW_OP_fbreg` may be read as CFA-relative (the enclosing subprogram's
/// `DW_AT_frame_base` is `DW_OP_call_frame_cfa`, as Go always emits).
pub fn decode_expression<R: Reader>(
    expression: Expression<R>,
    encoding: Encoding,
    frame_base_is_cfa: bool,
) -> Location {
    let mut ops = expression.operations(encoding);
    let mut pieces: Vec<Piece> = Vec::new();
    let mut current: Vec<Operation<R>> = Vec::new();
    let mut count = 0usize;
    loop {
        count += 1;
        if count > MAX_OPERATIONS {
            return Location::Unsupported;
        }
        match ops.next() {
            Ok(Some(Operation::Piece {
                size_in_bits,
                bit_offset,
            })) => {
                if bit_offset.is_some() || size_in_bits % 8 != 0 || pieces.len() >= MAX_PIECES {
                    return Location::Unsupported;
                }
                let location = simple_location(&current, frame_base_is_cfa);
                if matches!(location, Location::Unsupported) {
                    return Location::Unsupported;
                }
                pieces.push(Piece {
                    size: size_in_bits / 8,
                    location,
                });
                current.clear();
            }
            Ok(Some(op)) => {
                if current.len() >= MAX_OPERATIONS {
                    return Location::Unsupported;
                }
                current.push(op);
            }
            Ok(None) => break,
            Err(_) => return Location::Unsupported,
        }
    }
    if pieces.is_empty() {
        return simple_location(&current, frame_base_is_cfa);
    }
    if !current.is_empty() {
        // Operations after the last piece: not a shape Go emits.
        return Location::Unsupported;
    }
    Location::Pieces(pieces)
}

fn simple_location<R: Reader>(ops: &[Operation<R>], frame_base_is_cfa: bool) -> Location {
    match ops {
        [] => Location::Unavailable,
        [Operation::Address { address }] => Location::Address(*address),
        [Operation::Register { register }] => Location::Register(register.0),
        [Operation::RegisterOffset {
            register,
            offset,
            base_type,
        }] if base_type.0.into_u64() == 0 => Location::RegisterOffset {
            register: register.0,
            offset: *offset,
        },
        [Operation::CallFrameCFA] => Location::FrameOffset(0),
        [Operation::CallFrameCFA, Operation::PlusConstant { value }] => {
            i64::try_from(*value).map_or(Location::Unsupported, Location::FrameOffset)
        }
        [Operation::CallFrameCFA, Operation::SignedConstant { value }, Operation::Plus] => {
            Location::FrameOffset(*value)
        }
        [Operation::CallFrameCFA, Operation::UnsignedConstant { value }, Operation::Plus] => {
            i64::try_from(*value).map_or(Location::Unsupported, Location::FrameOffset)
        }
        [Operation::CallFrameCFA, Operation::SignedConstant { value }, Operation::Minus] => value
            .checked_neg()
            .map_or(Location::Unsupported, Location::FrameOffset),
        [Operation::FrameOffset { offset }] if frame_base_is_cfa => Location::FrameOffset(*offset),
        _ => Location::Unsupported,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gimli::{EndianSlice, Format, LittleEndian};

    fn decode(bytes: &[u8]) -> Location {
        let encoding = Encoding {
            format: Format::Dwarf32,
            version: 4,
            address_size: 8,
        };
        decode_expression(
            Expression(EndianSlice::new(bytes, LittleEndian)),
            encoding,
            true,
        )
    }

    #[test]
    fn go_shapes() {
        // DW_OP_call_frame_cfa
        assert_eq!(decode(&[0x9c]), Location::FrameOffset(0));
        // DW_OP_call_frame_cfa DW_OP_consts -16 DW_OP_plus
        assert_eq!(
            decode(&[0x9c, 0x11, 0x70, 0x22]),
            Location::FrameOffset(-16)
        );
        // DW_OP_call_frame_cfa DW_OP_plus_uconst 8
        assert_eq!(decode(&[0x9c, 0x23, 0x08]), Location::FrameOffset(8));
        // DW_OP_fbreg -288 (sleb128 0xe0 0x7d)
        assert_eq!(decode(&[0x91, 0xe0, 0x7d]), Location::FrameOffset(-288));
        // DW_OP_reg0
        assert_eq!(decode(&[0x50]), Location::Register(0));
        // DW_OP_addr 0x59c6c0
        assert_eq!(
            decode(&[0x03, 0xc0, 0xc6, 0x59, 0, 0, 0, 0, 0]),
            Location::Address(0x59c6c0)
        );
        // DW_OP_reg3 DW_OP_piece 8 DW_OP_reg2 DW_OP_piece 8
        assert_eq!(
            decode(&[0x53, 0x93, 0x08, 0x52, 0x93, 0x08]),
            Location::Pieces(vec![
                Piece {
                    size: 8,
                    location: Location::Register(3)
                },
                Piece {
                    size: 8,
                    location: Location::Register(2)
                },
            ])
        );
        // DW_OP_piece 8 with nothing before: that word is optimized out.
        assert_eq!(
            decode(&[0x93, 0x08, 0x52, 0x93, 0x08]),
            Location::Pieces(vec![
                Piece {
                    size: 8,
                    location: Location::Unavailable
                },
                Piece {
                    size: 8,
                    location: Location::Register(2)
                },
            ])
        );
        assert_eq!(decode(&[]), Location::Unavailable);
        // DW_OP_lit1 DW_OP_stack_value: a constant, not a place.
        assert_eq!(decode(&[0x31, 0x9f]), Location::Unsupported);
        // Truncated DW_OP_addr.
        assert_eq!(decode(&[0x03, 0x01]), Location::Unsupported);
    }
}
