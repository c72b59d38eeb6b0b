//! Policy implementations.
