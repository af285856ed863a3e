//! Copy-on-write sharing between copies of a tree.
//!
//! Every evaluation (a resolver candidate, a gate check) works on its own
//! copy of the parsed tree. Most of a tree never changes once parsed: the
//! menu structure, the properties, the expression arena, the symbol table,
//! each symbol's property and menu lists. Those parts sit
//! behind [`Shared`], so a copy shares them with the tree it came from and
//! only a copy that writes to one gets a private duplicate of that part.
//! Reading never copies; writing to a part nobody else holds (parsing,
//! decoding a snapshot) never copies either. A symbol's property and menu
//! lists are [`IdList`]s: shared the same way, but read in one step.

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

/// A short list of ids that is fixed once parsed (a symbol's properties or
/// menu entries), shared between copies of a tree: one allocation holding
/// the ids, its length kept inline, none at all when empty. Reading it is
/// one step from the symbol instead of two, and a copy of the tree copies
/// a pointer. Appending (only while parsing) rebuilds the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdList<T: Copy>(Option<Arc<[T]>>);

impl<T: Copy> Default for IdList<T> {
    fn default() -> IdList<T> {
        IdList(None)
    }
}

impl<T: Copy> IdList<T> {
    pub fn push(&mut self, v: T) {
        let mut all = self.to_vec();
        all.push(v);
        *self = all.into();
    }
}

impl<T: Copy> Deref for IdList<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.0.as_deref().unwrap_or(&[])
    }
}

impl<T: Copy> From<Arc<[T]>> for IdList<T> {
    fn from(v: Arc<[T]>) -> IdList<T> {
        IdList(if v.is_empty() { None } else { Some(v) })
    }
}

impl<T: Copy> From<Vec<T>> for IdList<T> {
    fn from(v: Vec<T>) -> IdList<T> {
        IdList(if v.is_empty() { None } else { Some(v.into()) })
    }
}

#[cfg(test)]
mod tests {
    use super::{IdList, Shared};

    #[test]
    fn an_id_list_appends_and_shares() {
        let mut a: IdList<u32> = IdList::default();
        assert!(a.is_empty());
        a.push(4);
        a.push(9);
        let b = a.clone();
        assert_eq!(&*b, &[4, 9]);
        a.push(1);
        assert_eq!((&*a, &*b), (&[4, 9, 1][..], &[4, 9][..]));
        assert_eq!(IdList::from(Vec::<u32>::new()), IdList::default());
    }

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
