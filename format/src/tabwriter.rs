//! Go's text/tabwriter as podman configures it (minimum cell width 12,
//! padding 2, spaces): tab-terminated cells are aligned per column block
//! of adjacent lines; a line's last cell is never padded.

const MIN_WIDTH: usize = 12;
const PADDING: usize = 2;

pub fn align(text: &str) -> String {
    let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    let mut out = String::with_capacity(text.len() * 2);
    let mut widths = Vec::new();
    format(&lines, 0, lines.len(), &mut widths, &mut out);
    out
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Go's `Writer.format`: finds the block of lines that have a cell in the
/// next column, sizes that column over the block, recurses.
fn format(
    lines: &[Vec<&str>],
    mut line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    out: &mut String,
) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        write_lines(lines, line0, this, widths, out);
        line0 = this;
        let mut w = MIN_WIDTH;
        while this < line1 && column + 1 < lines[this].len() {
            w = w.max(width(lines[this][column]) + PADDING);
            this += 1;
        }
        widths.push(w);
        format(lines, line0, this, widths, out);
        widths.pop();
        line0 = this;
    }
    write_lines(lines, line0, line1, widths, out);
}

fn write_lines(lines: &[Vec<&str>], from: usize, to: usize, widths: &[usize], out: &mut String) {
    for (i, line) in lines.iter().enumerate().take(to).skip(from) {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if let Some(w) = widths.get(j) {
                out.extend(std::iter::repeat_n(' ', w.saturating_sub(width(cell))));
            }
        }
        if i + 1 < lines.len() {
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_like_go_tabwriter() {
        assert_eq!(
            align("CONTAINER ID\tNAMES\nabc\tx\n"),
            "CONTAINER ID  NAMES\nabc           x\n"
        );
        assert_eq!(align("a\tb\n"), "a           b\n");
        assert_eq!(align("no tabs\n"), "no tabs\n");
    }
}
