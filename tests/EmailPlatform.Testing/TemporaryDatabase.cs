using Npgsql;

namespace EmailPlatform.Testing;

/// <summary>A PostgreSQL database of its own for one test, dropped afterwards.</summary>
public sealed class TemporaryDatabase : IAsyncDisposable
{
    private readonly string _name;
    private readonly string _admin;

    private TemporaryDatabase(string name, string connectionString, string admin)
    {
        _name = name;
        ConnectionString = connectionString;
        _admin = admin;
    }

    public string ConnectionString { get; }

    public static Task<TemporaryDatabase> CreateAsync() => CreateAsync(TestInfrastructure.PostgresAdmin);

    /// <summary>On another server than the shared one (such as a dedicated one a test restarts).</summary>
    public static async Task<TemporaryDatabase> CreateAsync(string adminConnectionString)
    {
        var name = "ep_test_" + Guid.NewGuid().ToString("N");
        await using (var admin = new NpgsqlConnection(adminConnectionString))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
            await create.ExecuteNonQueryAsync();
        }

        var builder = new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = name, Pooling = false };
        return new TemporaryDatabase(name, builder.ConnectionString, adminConnectionString);
    }

    public async Task<long> CountAsync(string table)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand($"SELECT count(*) FROM {table}", connection);
        return (long)(await count.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        await using var admin = new NpgsqlConnection(_admin);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {_name} WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }
}
