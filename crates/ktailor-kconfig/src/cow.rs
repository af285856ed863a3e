//! Copy-on-write sharing between copies of a tree.
//!
//! Every evaluation (a resolver candidate, a gate check) works on its own
//! copy of the parsed tree. Most of a tree never changes once parsed: the
//! menu structure, the properties, the expression arena, the symbol table,
//! each symbol's property and menu lists. Those parts sit
//! behind [`Shared`], so a copy shares them with the tree it came from and
//! only a copy that writes to one gets a private duplicate of that part.
//! Reading never copies; writing to a part nobody else holds (parsing,
//! decoding a snapshot) never copies either.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

/// A value shared between copies until one of them writes to it.
#[derive(Clone, Debug, Default)]
pub struct Shared<T: Clone>(Arc<T>);

impl<T: Clone> Shared<T> {
    pub fn new(v: T) -> Shared<T> {
        Shared(Arc::new(v))
    }

    /// Whether `a` and `b` are the same value, not a duplicate.
    pub fn ptr_eq(a: &Shared<T>, b: &Shared<T>) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

impl<T: Clone> Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Clone> DerefMut for Shared<T> {
    /// Duplicates the value first if another copy still holds it.
    fn deref_mut(&mut self) -> &mut T {
        Arc::make_mut(&mut self.0)
    }
}

impl<T: Clone> From<T> for Shared<T> {
    fn from(v: T) -> Shared<T> {
        Shared::new(v)
    }
}

#[cfg(test)]
mod tests {
    use super::Shared;

    #[test]
    fn a_copy_shares_until_it_writes() {
        let a = Shared::new(vec![1, 2, 3]);
        let mut b = a.clone();
        assert!(Shared::ptr_eq(&a, &b));
        assert_eq!(b[1], 2);
        assert!(Shared::ptr_eq(&a, &b), "reading must not duplicate");
        b[1] = 5;
        assert!(!Shared::ptr_eq(&a, &b));
        assert_eq!(*a, vec![1, 2, 3]);
        assert_eq!(*b, vec![1, 5, 3]);
    }

    #[test]
    fn writing_to_an_unshared_value_keeps_it_in_place() {
        let mut a = Shared::new(vec![1]);
        let p = a.as_ptr();
        a.push(2);
        a[0] = 7;
        assert_eq!(a.as_ptr(), p);
        assert_eq!(*a, vec![7, 2]);
    }
}
