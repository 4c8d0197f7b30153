//! The real libjpeg underneath: the one the program would have called without us.
//! `dlsym(RTLD_NEXT)` finds it when it is in the global scope (programs linked to libjpeg);
//! a library loaded with RTLD_LOCAL (Python extension modules such as Pillow's wheels, which
//! bundle their own libjpeg) is not there, so then we look through the loaded objects for
//! the one that defines `jpeg_CreateCompress` itself.

use libc::{c_int, c_uint, c_void};
use std::ffi::CStr;
use std::sync::Mutex;

/// A libjpeg object, as the real library takes it.
pub type ObjectPtr = *mut c_void;

/// The libjpeg functions the drop-in stands in front of.
pub struct Real {
    pub create_compress: unsafe extern "C" fn(ObjectPtr, c_int, usize),
    pub start_compress: unsafe extern "C" fn(ObjectPtr, c_int),
    pub write_scanlines: unsafe extern "C" fn(ObjectPtr, *const *const u8, c_uint) -> c_uint,
    pub write_raw_data: unsafe extern "C" fn(ObjectPtr, *const *const *const u8, c_uint) -> c_uint,
    pub write_marker: unsafe extern "C" fn(ObjectPtr, c_int, *const u8, c_uint),
    pub write_m_header: unsafe extern "C" fn(ObjectPtr, c_int, c_uint),
    pub write_m_byte: unsafe extern "C" fn(ObjectPtr, c_int),
    pub finish_compress: unsafe extern "C" fn(ObjectPtr),
    pub abort_compress: unsafe extern "C" fn(ObjectPtr),
    pub destroy_compress: unsafe extern "C" fn(ObjectPtr),
    pub abort: unsafe extern "C" fn(ObjectPtr),
    pub destroy: unsafe extern "C" fn(ObjectPtr),
    /// For the fallback's own object.
    pub set_defaults: unsafe extern "C" fn(ObjectPtr),
    pub set_colorspace: unsafe extern "C" fn(ObjectPtr, c_int),
    /// libjpeg-turbo 1.5.90 and later.
    pub write_icc_profile: Option<unsafe extern "C" fn(ObjectPtr, *const u8, c_uint)>,
    /// Where they were found (for the log).
    pub origin: String,
}

/// Symbol `name` of `handle` (RTLD_NEXT or a dlopen handle) as the function pointer type `T`;
/// None when it is not there.
///
/// # Safety
/// `handle` is RTLD_NEXT or live; `T` is a function pointer type with the symbol's C signature.
pub unsafe fn symbol<T: Copy>(handle: *mut c_void, name: &CStr) -> Option<T> {
    assert_eq!(std::mem::size_of::<T>(), std::mem::size_of::<*mut c_void>());
    // SAFETY: a NUL-terminated name; the handle per the contract.
    let p = unsafe { libc::dlsym(handle, name.as_ptr()) };
    // SAFETY: same size (checked); the caller vouches for the signature.
    (!p.is_null()).then(|| unsafe { std::mem::transmute_copy(&p) })
}

/// # Safety
/// `handle` is RTLD_NEXT or a live dlopen handle.
unsafe fn resolve(handle: *mut c_void, origin: String) -> Option<Real> {
    // SAFETY: for every symbol below: the handle per the contract; each is libjpeg's function of
    // that name, whose C signature is the field's type.
    unsafe {
        Some(Real {
            create_compress: symbol(handle, c"jpeg_CreateCompress")?,
            start_compress: symbol(handle, c"jpeg_start_compress")?,
            write_scanlines: symbol(handle, c"jpeg_write_scanlines")?,
            write_raw_data: symbol(handle, c"jpeg_write_raw_data")?,
            write_marker: symbol(handle, c"jpeg_write_marker")?,
            write_m_header: symbol(handle, c"jpeg_write_m_header")?,
            write_m_byte: symbol(handle, c"jpeg_write_m_byte")?,
            finish_compress: symbol(handle, c"jpeg_finish_compress")?,
            abort_compress: symbol(handle, c"jpeg_abort_compress")?,
            destroy_compress: symbol(handle, c"jpeg_destroy_compress")?,
            abort: symbol(handle, c"jpeg_abort")?,
            destroy: symbol(handle, c"jpeg_destroy")?,
            set_defaults: symbol(handle, c"jpeg_set_defaults")?,
            set_colorspace: symbol(handle, c"jpeg_set_colorspace")?,
            write_icc_profile: symbol(handle, c"jpeg_write_icc_profile"),
            origin,
        })
    }
}

/// The path of the object containing `addr` ("" for the main program).
fn object_of(addr: *const c_void) -> Option<String> {
    // SAFETY: Dl_info is plain data; dladdr fills it or returns 0.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: any address may be asked about.
    if unsafe { libc::dladdr(addr, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dladdr's file name is a NUL-terminated string owned by the loader.
    Some(
        unsafe { CStr::from_ptr(info.dli_fname) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// Our own file (the drop-in).
pub fn own_object() -> Option<String> {
    object_of(own_object as *const c_void)
}

/// Every loaded object's path, in load order.
fn loaded_objects() -> Vec<String> {
    unsafe extern "C" fn each(info: *mut libc::dl_phdr_info, _: usize, data: *mut c_void) -> c_int {
        // SAFETY: `data` is the Vec passed below; `info` is valid during the callback.
        let (names, info) = unsafe { (&mut *data.cast::<Vec<String>>(), &*info) };
        if !info.dlpi_name.is_null() {
            // SAFETY: a NUL-terminated string owned by the loader.
            let name = unsafe { CStr::from_ptr(info.dlpi_name) };
            if !name.is_empty() {
                names.push(name.to_string_lossy().into_owned());
            }
        }
        0
    }
    let mut names: Vec<String> = Vec::new();
    // SAFETY: the callback only appends to `names`, which outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(each), (&mut names as *mut Vec<String>).cast()) };
    names
}

fn find() -> Option<Real> {
    // SAFETY: RTLD_NEXT is a valid pseudo-handle.
    if let Some(real) = unsafe { resolve(libc::RTLD_NEXT, "RTLD_NEXT".into()) } {
        return Some(real);
    }
    let own = own_object();
    for name in loaded_objects() {
        if Some(&name) == own.as_ref() {
            continue;
        }
        let Ok(cname) = std::ffi::CString::new(name.clone()) else {
            continue;
        };
        // SAFETY: NOLOAD only looks up an already loaded object and takes a reference.
        let handle = unsafe { libc::dlopen(cname.as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD) };
        if handle.is_null() {
            continue;
        }
        // SAFETY: a live handle; a NUL-terminated name.
        let p = unsafe { libc::dlsym(handle, c"jpeg_CreateCompress".as_ptr()) };
        // Only the object that defines it, not one that merely depends on it.
        if !p.is_null() && object_of(p).as_deref() == Some(name.as_str()) {
            // SAFETY: a live handle (kept: the library stays loaded for good).
            if let Some(real) = unsafe { resolve(handle, name) } {
                return Some(real);
            }
        }
        // SAFETY: the reference NOLOAD took.
        unsafe { libc::dlclose(handle) };
    }
    None
}

/// The real libjpeg, found once; aborts the process when there is none (a program calling
/// libjpeg always has one loaded, so that is a broken installation).
pub fn real() -> &'static Real {
    static REAL: Mutex<Option<&'static Real>> = Mutex::new(None);
    let mut slot = REAL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(real) = *slot {
        return real;
    }
    match find() {
        Some(real) => slot.insert(Box::leak(Box::new(real))),
        None => {
            eprintln!("amljpeg-preload: no libjpeg is loaded in this process: cannot continue");
            std::process::abort()
        }
    }
}
