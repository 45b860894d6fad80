//! IPv4 and IPv6: every rule set, DNS server list and range list comes in
//! one part per family, because iptables and ip6tables are separate tables.

use std::fmt;
use std::net::IpAddr;
use std::ops::{Index, IndexMut};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// One value per family.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ByFamily<T> {
    pub v4: T,
    pub v6: T,
}

impl<T> ByFamily<Vec<T>> {
    /// Items sorted into their family, each family keeping the input order.
    pub fn split(items: impl IntoIterator<Item = T>, family: impl Fn(&T) -> Family) -> Self {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for item in items {
            match family(&item) {
                Family::V4 => v4.push(item),
                Family::V6 => v6.push(item),
            }
        }
        ByFamily { v4, v6 }
    }
}

impl<T> Index<Family> for ByFamily<T> {
    type Output = T;
    fn index(&self, family: Family) -> &T {
        match family {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        }
    }
}

impl<T> IndexMut<Family> for ByFamily<T> {
    fn index_mut(&mut self, family: Family) -> &mut T {
        match family {
            Family::V4 => &mut self.v4,
            Family::V6 => &mut self.v6,
        }
    }
}
