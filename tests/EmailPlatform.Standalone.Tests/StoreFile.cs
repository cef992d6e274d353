using Microsoft.Data.Sqlite;

namespace EmailPlatform.Standalone.Tests;

/// <summary>Reads the standalone host's SQLite file (<c>emailplatform.db</c> in a data directory) directly, between or after starts.</summary>
internal static class StoreFile
{
    /// <summary>Opens the store in <paramref name="dataDirectory"/>, unpooled so that nothing keeps the file open afterwards.</summary>
    public static SqliteConnection Open(string dataDirectory, SqliteOpenMode mode = SqliteOpenMode.ReadWriteCreate)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(dataDirectory, "emailplatform.db"), Mode = mode, Pooling = false,
        }.ToString());
        connection.Open();
        return connection;
    }

    /// <summary>Runs <paramref name="sql"/> and reads each row with <paramref name="read"/>.</summary>
    public static List<T> Query<T>(SqliteConnection connection, string sql, Func<SqliteDataReader, T> read)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<T>();
        while (reader.Read())
        {
            rows.Add(read(reader));
        }

        return rows;
    }
}
