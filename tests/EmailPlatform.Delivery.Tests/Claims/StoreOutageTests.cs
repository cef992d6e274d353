using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace EmailPlatform.Delivery.Tests.Claims;

/// <summary>
/// The store goes away. Between the relay's 250 and the record of it, the worker keeps trying the record in place while
/// its claim holds, so the outcome is recorded once the store is back and the message is not sent a second time.
/// Before the claim, the message waits for the store (StoreOutageRetry) instead of faulting and failing its recipients.
/// </summary>
public sealed class StoreOutageTests
{
    [Fact]
    public async Task EmailsArrivingWhileTheStoreIsDownWaitForItAndAreDeliveredOnceNoneFailed()
    {
        var admin = new NpgsqlConnectionStringBuilder(TestInfrastructure.PostgresAdmin);
        await using var store = new StoreOutageProxy(admin.Host!, admin.Port);
        await using var relay = await ScriptedSmtpServer.StartAsync();
        await using var host = await DeliveryHost.StartAsync(relay.Port, TestStore.Postgres, new Dictionary<string, string?>
        {
            ["Delivery:RetryPollInterval"] = "00:00:01",
        }, routeStore: store.Route);
        var emails = Enumerable.Range(0, 3).Select(_ => TestEmails.Create()).ToList();

        store.Cut();
        foreach (var email in emails)
        {
            await host.SendAsync(email);
        }

        // Longer than the consumer's own retries (200 ms, 1 s, 5 s) and the fault consumer's first ones after them: the
        // emails used to fault here, and their recipients were failed once the store answered again.
        await Task.Delay(TimeSpan.FromSeconds(15));
        Assert.Empty(host.Published<EmailFailed>());
        Assert.Empty(relay.Received);
        store.Restore();

        var delivered = await host.WaitForAsync<EmailDelivered>(d => d.Count >= emails.Count, "the three deliveries", seconds: 120);
        Assert.Equal(emails.Select(e => e.EmailId).Order(), delivered.Select(d => d.EmailId).Order());
        Assert.Empty(host.Published<EmailFailed>());
        Assert.Equal(emails.Count, relay.Received.Count);
    }

    /// <summary>
    /// A store that answers but refuses writes (PostgreSQL's 25006: a failover onto a standby, a managed database turned
    /// read-only as its disk fills, an operator's <c>default_transaction_read_only</c>) is an outage too. It used to fault
    /// the commands, whose fault consumer could not record a failure either: they ended in an error queue, the emails
    /// never sent and never finished.
    /// </summary>
    [Fact]
    public async Task EmailsArrivingWhileTheStoreIsReadOnlyWaitForItAndAreDeliveredOnceNoneFailed()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        string? connectionString = null;
        await using var host = await DeliveryHost.StartAsync(relay.Port, TestStore.Postgres, new Dictionary<string, string?>
        {
            ["Delivery:RetryPollInterval"] = "00:00:01",
        }, routeStore: cs => connectionString = cs);
        var database = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        var emails = Enumerable.Range(0, 3).Select(_ => TestEmails.Create()).ToList();

        await ReadOnlyAsync(database, on: true);
        foreach (var email in emails)
        {
            await host.SendAsync(email);
        }

        // Longer than the consumer's own retries (200 ms, 1 s, 5 s) and the fault consumer's first ones after them.
        await Task.Delay(TimeSpan.FromSeconds(15));
        Assert.Empty(host.Published<EmailFailed>());
        Assert.Empty(relay.Received);
        await ReadOnlyAsync(database, on: false);

        var delivered = await host.WaitForAsync<EmailDelivered>(d => d.Count >= emails.Count, "the three deliveries", seconds: 120);
        Assert.Equal(emails.Select(e => e.EmailId).Order(), delivered.Select(d => d.EmailId).Order());
        Assert.Empty(host.Published<EmailFailed>());
        Assert.Equal(emails.Count, relay.Received.Count);
    }

    /// <summary>Makes <paramref name="database"/> refuse writes, or take them again, for every session: the open ones are ended so the pools open new ones.</summary>
    private static async Task ReadOnlyAsync(string database, bool on)
    {
        await using var admin = new NpgsqlConnection(TestInfrastructure.PostgresAdmin);
        await admin.OpenAsync();
        await using (var alter = new NpgsqlCommand($"ALTER DATABASE \"{database}\" {(on ? "SET default_transaction_read_only = on" : "RESET default_transaction_read_only")}", admin))
        {
            await alter.ExecuteNonQueryAsync();
        }

        await using var terminate = new NpgsqlCommand("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = @database AND pid <> pg_backend_pid()", admin);
        terminate.Parameters.AddWithValue("database", database);
        await terminate.ExecuteScalarAsync();
    }

    [Fact]
    public async Task OutcomeTheStoreMissedIsRecordedWhenItIsBackAndTheEmailIsNotSentAgain()
    {
        var admin = new NpgsqlConnectionStringBuilder(TestInfrastructure.PostgresAdmin);
        await using var store = new StoreOutageProxy(admin.Host!, admin.Port);
        await using var relay = await ScriptedSmtpServer.StartAsync();
        var cut = 0;
        relay.BeforeDataReply = () =>
        {
            // The first message reaches the relay: the store goes away before the relay answers 250.
            if (Interlocked.Exchange(ref cut, 1) == 0)
            {
                store.Cut();
                _ = Task.Delay(TimeSpan.FromSeconds(3)).ContinueWith(_ => store.Restore(), TaskScheduler.Default);
            }

            return Task.CompletedTask;
        };
        await using var host = await DeliveryHost.StartAsync(relay.Port, TestStore.Postgres, new Dictionary<string, string?>
        {
            // Without the record in place, the claim would lapse after this lease and the email be sent again.
            ["Delivery:ClaimLease"] = "00:00:30",
            ["Delivery:RequeueAfter"] = "00:00:20",
            ["Delivery:RetryPollInterval"] = "00:00:01",
            ["Delivery:CommandTimeout"] = "00:00:05",
            ["Delivery:DataTimeout"] = "00:00:05",
            ["Delivery:ConnectTimeout"] = "00:00:03",
        }, routeStore: store.Route);
        var email = TestEmails.Create();

        await host.SendAsync(email);

        var delivered = Assert.Single(await host.WaitForAsync<EmailDelivered>(d => d.Count >= 1, "the delivery", seconds: 90));
        Assert.Equal(1, delivered.Attempt);
        Assert.Equal(1, Volatile.Read(ref cut));
        var record = await host.QueryAsync(db => db.Deliveries.AsNoTracking().SingleAsync(d => d.EmailId == email.EmailId));
        Assert.Equal((DeliveryState.Delivered, 1), (record.State, record.Attempt));
        Assert.Single(relay.Received);
    }
}
