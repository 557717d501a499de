//! Small formatting helpers shared by the renderers.

/// Virtual time in milliseconds with three decimals, rounded as the fault schedule prints it.
pub fn ms(time_ns: u64) -> String {
    format!("{:.3}ms", time_ns as f64 / 1e6)
}

/// Escapes text for HTML element content and attribute values (the checker's escaper, so
/// both pages escape alike).
pub use checker::html::escape;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_keeps_microseconds() {
        assert_eq!(ms(0), "0.000ms");
        assert_eq!(ms(1_234_567_890), "1234.568ms");
    }

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
