//! The rows a query answers, always read to their end.
//!
//! On a libSQL server a query's rows stream in on the connection's stream as the server
//! produces them. A stream given up half-way (its rows dropped after the one row that was
//! wanted) is cancelled by the server, and that cancel can land on the connection's next
//! request, which then fails with `SQLITE_INTERRUPT`. So rows from a server are read to
//! their end: [`Rows::one`] reads the first row and then the rest, and rows dropped before
//! their end are read to it in the background. On a local file nothing streams, and rows
//! may be dropped at any point.

/// The rows of one query, read one at a time with [`Rows::next`].
pub(crate) struct Rows {
    rows: Option<libsql::Rows>,
    /// Whether they come from a server (and must be read to their end).
    from_server: bool,
    /// Whether the last row has been read.
    ended: bool,
}

impl Rows {
    /// The rows `rows` of a query, run on a server when `from_server`.
    pub(crate) fn new(rows: libsql::Rows, from_server: bool) -> Rows {
        Rows {
            rows: Some(rows),
            from_server,
            ended: false,
        }
    }

    /// The next row; `None` after the last.
    pub(crate) async fn next(&mut self) -> Result<Option<libsql::Row>, libsql::Error> {
        let Some(rows) = self.rows.as_mut() else {
            return Ok(None);
        };
        let row = rows.next().await;
        if !matches!(row, Ok(Some(_))) {
            // An error ends the rows too: the stream is over.
            self.ended = true;
        }
        row
    }

    /// The first row (`None` when there is none); from a server, after reading the rest.
    /// (A row from a local file reads its statement's current row: it must be read before
    /// the statement steps on.)
    pub(crate) async fn one(mut self) -> Result<Option<libsql::Row>, libsql::Error> {
        let first = self.next().await?;
        if first.is_some() && self.from_server {
            while self.next().await?.is_some() {}
        }
        Ok(first)
    }

    /// How many columns each row has.
    pub(crate) fn column_count(&self) -> i32 {
        self.rows.as_ref().map_or(0, libsql::Rows::column_count)
    }
}

impl Drop for Rows {
    fn drop(&mut self) {
        if self.ended || !self.from_server {
            return;
        }
        let (Some(mut rows), Ok(runtime)) =
            (self.rows.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        runtime.spawn(async move { while let Ok(Some(_)) = rows.next().await {} });
    }
}
