using EmailPlatform.Testing;
using Npgsql;

namespace EmailPlatform.Resilience.Tests.Support;

/// <summary>The ingress outbox's rows of a stack, counted straight from its store.</summary>
internal static class OutboxRows
{
    /// <summary>Messages not published yet.</summary>
    public static Task<long> UnpublishedAsync(PlatformStack stack) => CountAsync(stack, "published_at IS NULL");

    /// <summary>Messages a publisher has claimed (their lease running) and not published.</summary>
    public static Task<long> ClaimedUnpublishedAsync(PlatformStack stack) => CountAsync(stack, "published_at IS NULL AND publishing_until > now()");

    private static async Task<long> CountAsync(PlatformStack stack, string condition)
    {
        await using var connection = new NpgsqlConnection(stack.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT count(*) FROM outbox_messages WHERE {condition}", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
