using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EmailPlatform.Standalone.Tests;

/// <summary>
/// A stop of the standalone host while emails wait to be sent: its in-memory bus gives nothing back, so the stop hands
/// back what it did not send, ends within <c>Shutdown:Timeout</c>, fails no one, and the next start sends the rest at
/// once, each once.
/// </summary>
public sealed class ShutdownTests : IDisposable
{
    private const int Emails = 20;
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(15);
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("emailplatform-shutdown-").FullName;
    private readonly string _apiKey = TestInfrastructure.NewApiKey();

    [Fact]
    public async Task StoppingWhileEmailsWaitEndsWithinTheTimeoutFailsNothingAndTheNextStartSendsTheRestAtOnceAndOnce()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        var inTransaction = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        relay.BeforeDataReply = () =>
        {
            inTransaction.TrySetResult();
            return release.Task;
        };

        var ids = new List<string>();
        var first = Create(relay.Port);
        using (var client = StandaloneHost.Client(first, _apiKey))
        {
            for (var i = 0; i < Emails; i++)
            {
                using var response = await client.PostAsJsonAsync("/v1/emails", new { from = "hello@acme.test", to = $"r{i}@example.test", subject = $"Email {i}", text = "Hi." });
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
                ids.Add(JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<string>());
            }

            await inTransaction.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await Eventually.GetAsync(() => Task.FromResult(Claimed()), n => n >= 2, TimeSpan.FromSeconds(30),
                "a second email claimed, waiting for the relay's one connection");
        }

        // SIGTERM: the host's own run stops it, as in production; the transaction under way finishes, and the emails
        // waiting for the connection get it only now.
        var lifetime = first.Services.GetRequiredService<IHostApplicationLifetime>();
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStopped.Register(() => stopped.TrySetResult()))
        {
            var stopping = System.Diagnostics.Stopwatch.StartNew();
            lifetime.StopApplication();
            release.SetResult();
            await stopped.Task.WaitAsync(ShutdownTimeout + TimeSpan.FromSeconds(15));
            Assert.True(stopping.Elapsed < ShutdownTimeout, $"the stop took {stopping.Elapsed}, longer than Shutdown:Timeout");
        }

        // Only now: the factory's own stop, run beside the host's, would find the bus stopping, return at once and dispose
        // the services under the consumes still handing their claims back. The host's run disposes it meanwhile.
        await DisposeStoppedAsync(first);

        Assert.Single(relay.Received);
        var left = Unfinished();
        Assert.DoesNotContain(left, r => r.State is "failed" or "bounced");
        // The one handed back waits for Delivery:RequeueAfter: a redelivery that the in-memory bus cannot make.
        Assert.Contains(left, r => r.State == "queued" && r.DueAt > DateTime.UtcNow.AddMinutes(5));

        await using var second = Create(relay.Port);
        using var again = StandaloneHost.Client(second, _apiKey);
        // Through one connection, the first id may be the last of them all to be delivered.
        foreach (var id in ids)
        {
            await StandaloneHost.WaitForStatusAsync(again, id, "delivered", 2 * StandaloneHost.DeliveryWait);
        }

        Assert.Equal(Emails, relay.Received.Count);
        Assert.Equal(Emails, relay.Received.Select(m => m.RcptTo.Single()).Distinct().Count());
    }

    private static async Task DisposeStoppedAsync(IAsyncDisposable factory)
    {
        try
        {
            await factory.DisposeAsync();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<StandaloneOptions> Create(int relayPort) =>
        StandaloneHost.Create(_dataDirectory, _apiKey, ServiceProcess.FreeTcpPort(), web =>
        {
            web.UseSetting("Shutdown:Timeout", ShutdownTimeout.ToString("c", CultureInfo.InvariantCulture));
            web.UseSetting("Delivery:Relays:0:Name", "scripted");
            web.UseSetting("Delivery:Relays:0:Host", "127.0.0.1");
            web.UseSetting("Delivery:Relays:0:Port", relayPort.ToString(CultureInfo.InvariantCulture));
            web.UseSetting("Delivery:Relays:0:Security", "None");
            web.UseSetting("Delivery:Relays:0:MaxConnections", "1");
        });

    private int Claimed() => Query("SELECT count(*) FROM deliveries WHERE state = 'sending'", r => r.GetInt32(0)).Single();

    /// <summary>The worker's records not delivered, read from the file between the two starts.</summary>
    private List<(string State, DateTime? DueAt)> Unfinished() => Query(
        "SELECT state, due_at FROM deliveries WHERE state <> 'delivered'",
        r => (r.GetString(0), r.IsDBNull(1) ? (DateTime?)null : DateTime.Parse(r.GetString(1), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal)));

    private List<T> Query<T>(string sql, Func<SqliteDataReader, T> read)
    {
        using var connection = StoreFile.Open(_dataDirectory);
        return StoreFile.Query(connection, sql, read);
    }

    public void Dispose() => Directory.Delete(_dataDirectory, recursive: true);
}
