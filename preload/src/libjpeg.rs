//! The parts of libjpeg's ABI the drop-in touches: the compress object's fields (through its
//! [`Abi`]), and the structs that are the same in every version (managers, tables).

use crate::abi::{Abi, Field};
use libc::{c_int, c_long, c_uint, c_void};

pub const CSTATE_START: c_int = 100;
pub const CSTATE_SCANNING: c_int = 101;
pub const CSTATE_RAW_OK: c_int = 102;

/// `J_COLOR_SPACE` values (libjpeg-turbo's numbering for the extended RGB spaces).
pub mod cs {
    pub const RGB: i32 = 2;
    pub const YCBCR: i32 = 3;
    pub const EXT_RGB: i32 = 6;
    pub const EXT_RGBX: i32 = 7;
    pub const EXT_BGR: i32 = 8;
    pub const EXT_BGRX: i32 = 9;
    pub const EXT_XBGR: i32 = 10;
    pub const EXT_XRGB: i32 = 11;
    pub const EXT_RGBA: i32 = 12;
    pub const EXT_BGRA: i32 = 13;
    pub const EXT_ABGR: i32 = 14;
    pub const EXT_ARGB: i32 = 15;
}

pub type Method = unsafe extern "C" fn(*mut c_void);

#[repr(C)]
pub struct DestinationMgr {
    pub next_output_byte: *mut u8,
    pub free_in_buffer: usize,
    pub init_destination: Option<Method>,
    pub empty_output_buffer: Option<unsafe extern "C" fn(*mut c_void) -> c_int>,
    pub term_destination: Option<Method>,
}

#[repr(C)]
pub struct ErrorMgr {
    pub error_exit: Option<Method>,
    pub emit_message: Option<unsafe extern "C" fn(*mut c_void, c_int)>,
    pub output_message: Option<Method>,
    pub format_message: Option<unsafe extern "C" fn(*mut c_void, *mut libc::c_char)>,
    pub reset_error_mgr: Option<Method>,
    pub msg_code: c_int,
    pub msg_parm: [u8; 80],
    pub trace_level: c_int,
    pub num_warnings: c_long,
    pub jpeg_message_table: *const *const libc::c_char,
    pub last_jpeg_message: c_int,
}

#[repr(C)]
pub struct ProgressMgr {
    pub progress_monitor: Option<Method>,
    pub pass_counter: c_long,
    pub pass_limit: c_long,
    pub completed_passes: c_int,
    pub total_passes: c_int,
}

#[repr(C)]
pub struct QuantTbl {
    pub quantval: [u16; 64],
    pub sent_table: c_int,
}

#[repr(C)]
pub struct HuffTbl {
    pub bits: [u8; 17],
    pub huffval: [u8; 256],
    pub sent_table: c_int,
}

/// The first members of `jpeg_component_info`, the same in every version.
#[repr(C)]
pub struct ComponentHead {
    pub component_id: c_int,
    pub component_index: c_int,
    pub h_samp_factor: c_int,
    pub v_samp_factor: c_int,
    pub quant_tbl_no: c_int,
    pub dc_tbl_no: c_int,
    pub ac_tbl_no: c_int,
}

/// A compress object seen through its ABI. Copy: it is a pointer.
#[derive(Clone, Copy)]
pub struct Cinfo {
    pub ptr: *mut c_void,
    pub abi: &'static Abi,
}

impl Cinfo {
    /// # Safety
    /// The object must be alive, have this ABI and have field `f`.
    unsafe fn at<T>(self, f: Field, index: usize) -> *mut T {
        let off = self.abi.offset(f).expect("field present in this ABI");
        // SAFETY: in bounds of the struct per the caller's contract.
        unsafe { self.ptr.cast::<u8>().add(off).cast::<T>().add(index) }
    }

    /// An int, unsigned, boolean or enum field (0 when this ABI lacks it... never asked then).
    ///
    /// # Safety
    /// See [`Cinfo::at`].
    pub unsafe fn int(self, f: Field) -> c_int {
        // SAFETY: an aligned int field of a live object.
        unsafe { *self.at::<c_int>(f, 0) }
    }

    /// # Safety
    /// See [`Cinfo::at`].
    pub unsafe fn uint(self, f: Field) -> c_uint {
        // SAFETY: as above.
        unsafe { *self.at::<c_uint>(f, 0) }
    }

    /// # Safety
    /// See [`Cinfo::at`].
    pub unsafe fn set_int(self, f: Field, v: c_int) {
        // SAFETY: as above.
        unsafe { *self.at::<c_int>(f, 0) = v }
    }

    /// # Safety
    /// See [`Cinfo::at`].
    pub unsafe fn u8(self, f: Field) -> u8 {
        // SAFETY: as above.
        unsafe { *self.at::<u8>(f, 0) }
    }

    /// # Safety
    /// See [`Cinfo::at`].
    pub unsafe fn u16(self, f: Field) -> u16 {
        // SAFETY: as above.
        unsafe { *self.at::<u16>(f, 0) }
    }

    /// # Safety
    /// See [`Cinfo::at`].
    pub unsafe fn set_uint(self, f: Field, v: c_uint) {
        // SAFETY: as above.
        unsafe { *self.at::<c_uint>(f, 0) = v }
    }

    /// # Safety
    /// See [`Cinfo::at`].
    pub unsafe fn set_ptr<T>(self, f: Field, v: *mut T) {
        // SAFETY: as above.
        unsafe { *self.at::<*mut T>(f, 0) = v }
    }

    /// Element `index` of a pointer field (or array of pointers).
    ///
    /// # Safety
    /// See [`Cinfo::at`]; `index` within the array.
    pub unsafe fn ptr<T>(self, f: Field, index: usize) -> *mut T {
        // SAFETY: as above.
        unsafe { *self.at::<*mut T>(f, index) }
    }

    /// Component `i` of `comp_info` (NULL when there is none).
    ///
    /// # Safety
    /// The object is alive; `i` < the number of allocated components (libjpeg allocates 10).
    pub unsafe fn component(self, i: usize) -> *const ComponentHead {
        // SAFETY: per the contract.
        let base = unsafe { self.ptr::<u8>(Field::CompInfo, 0) };
        if base.is_null() {
            return std::ptr::null();
        }
        // SAFETY: comp_info is an array of component_size-byte structs.
        unsafe { base.add(i * self.abi.component_size).cast() }
    }

    /// # Safety
    /// See [`Cinfo::at`].
    pub unsafe fn dest(self) -> *mut DestinationMgr {
        // SAFETY: as above.
        unsafe { self.ptr(Field::Dest, 0) }
    }
}
