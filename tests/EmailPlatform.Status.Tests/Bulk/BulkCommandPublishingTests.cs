using System.Net;
using System.Text;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.Status.Bulk;
using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EmailPlatform.Status.Tests.Bulk;

/// <summary>
/// A bulk operation's commands go through <c>bulk_commands</c>, on a real PostgreSQL and RabbitMQ: committed with the
/// operation's audit record whatever the broker does, published in full once it can be, never by two replicas together.
/// </summary>
public sealed class BulkCommandPublishingTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task AnOperationAnsweredWhileTheBrokerIsDownIsCarriedOutInFullOnceItIsBack()
    {
        // One more than a row holds, so the operation spans two rows.
        const int count = BulkCommands.PerRow + 1;
        await using var database = await TemporaryDatabase.CreateAsync();
        var nowhere = new Uri($"amqp://guest:guest@127.0.0.1:{ServiceProcess.FreeTcpPort()}/");
        var ids = Enumerable.Range(0, count).Select(_ => Guid.NewGuid()).ToList();

        Guid auditId;
        await using (var offline = await StatusApi.StartAsync(database: database, rabbitMq: nowhere))
        {
            await RecordTogetherAsync(offline, [.. ids.SelectMany(id => new object[]
            {
                TestEvents.Accepted(id, to: [$"user-{id:N}@example.com"]),
                TestEvents.Deferred(id, $"user-{id:N}@example.com", nextAttemptAt: DateTimeOffset.UtcNow.AddHours(1)),
            })]);
            using var client = offline.CreateClient();
            // Publishing in the request would wait for the broker until this gives up.
            client.Timeout = TimeSpan.FromSeconds(30);

            using var response = await PostAsync(client, "retry", """{"filter": {"status": "deferred"}}""");

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(count, body.GetProperty("emails").GetInt32());
            auditId = body.GetProperty("id").GetGuid();
            var rows = await offline.WithStoreAsync(db => db.BulkCommands.AsNoTracking().ToListAsync());
            Assert.Equal([BulkCommands.PerRow, 1], rows.Select(r => BulkCommands.Read(r).Commands.Length).Order().Reverse());
            Assert.All(rows, r => Assert.Equal((auditId, nameof(RetryRecipients), null), (r.AuditId, r.MessageType, r.ParkedAt)));
        }

        // The broker is back: the service started again on the same store publishes what the first one committed.
        await using var virtualHost = await TemporaryVirtualHost.CreateAsync();
        await using var listener = await CommandListener.StartAsync(virtualHost.Uri);
        await using var online = await StatusApi.StartAsync(database: database, rabbitMq: virtualHost.Uri);

        await Eventually.GetAsync(() => online.WithStoreAsync(db => db.BulkCommands.CountAsync()), n => n == 0, Timeout, "bulk_commands to drain");
        var retries = await Eventually.GetAsync(() => Task.FromResult(listener.Retries), r => r.Count >= count, Timeout, $"{count} RetryRecipients commands");
        Assert.Equal(ids.Order(), retries.Select(r => r.EmailId).Order());
        Assert.Equal(count, retries.Select(r => r.CommandId).Distinct().Count());
        Assert.All(retries, r => Assert.Equal($"user-{r.EmailId:N}@example.com", Assert.Single(r.Recipients)));
    }

    /// <summary>
    /// RabbitMQ drops a published message that no queue is bound for: before the service that acts on a command has
    /// declared its queue (a first install, the status service up before the workers), a retry would be answered and
    /// never carried out. Published mandatory, the commands come back instead and their row waits for a queue.
    /// </summary>
    [Fact]
    public async Task CommandsNoQueueIsBoundForYetWaitInTheirRowUntilOneIs()
    {
        var logs = new LogCapture();
        await using var api = await StatusApi.StartAsync(services: services => services.AddSingleton<ILoggerProvider>(logs));
        var id = Guid.NewGuid();
        await RecordTogetherAsync(api,
            [TestEvents.Accepted(id, to: ["alice@example.com"]), TestEvents.Deferred(id, "alice@example.com", nextAttemptAt: DateTimeOffset.UtcNow.AddHours(1))]);
        // Connected, so that a publish can fail for no other reason than the broker returning it.
        await api.WaitForBusAsync(Timeout);
        using var client = api.CreateClient();

        using var response = await PostAsync(client, "retry", """{"filter": {"status": "deferred"}}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // The publisher has had its try: the broker took the commands (and the row is gone) or gave them back.
        var (rows, returned) = await Eventually.GetAsync(
            async () => (Rows: await api.WithStoreAsync(db => db.BulkCommands.CountAsync()),
                Returned: logs.Entries.Any(e => e.Id == 3302 && e.Exception is MessageReturnedException)),
            r => r.Rows == 0 || r.Returned, Timeout, "the publisher's first try");
        Assert.Equal((1, true), (rows, returned));

        await using var listener = await CommandListener.StartAsync(api.RabbitMqUri);

        var retries = await Eventually.GetAsync(() => Task.FromResult(listener.Retries), r => r.Count > 0, Timeout, "the RetryRecipients command");
        Assert.Equal(id, Assert.Single(retries).EmailId);
        await Eventually.GetAsync(() => api.WithStoreAsync(db => db.BulkCommands.CountAsync()), n => n == 0, Timeout, "the row deleted once published");
    }

    [Fact]
    public async Task RowsThatCannotBeReadAreParkedAndDoNotHoldBackTheOperationsBehindThem()
    {
        await using var api = await StatusApi.StartAsync();
        await using var listener = await CommandListener.StartAsync(api.RabbitMqUri);
        var scheduled = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(scheduled, to: ["alice@example.com"], scheduledAt: DateTimeOffset.UtcNow.AddDays(1)));
        // Written before the operation, so they come first in the publisher's order.
        var badPayload = Row(nameof(CancelEmail), "{not json");
        var empty = Row(nameof(CancelEmail), "[]");
        await api.WithStoreAsync(db =>
        {
            db.BulkCommands.AddRange(badPayload, empty);
            return db.SaveChangesAsync();
        });
        using var client = api.CreateClient();

        using var response = await PostAsync(client, "cancel", """{"filter": {"status": "scheduled"}}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var cancels = await Eventually.GetAsync(() => Task.FromResult(listener.Cancels), c => c.Count >= 1, Timeout, "the CancelEmail command");
        Assert.Equal(scheduled, Assert.Single(cancels).EmailId);
        var left = await Eventually.GetAsync(
            () => api.WithStoreAsync(db => db.BulkCommands.AsNoTracking().ToListAsync()), rows => rows.All(r => r.ParkedAt is not null), Timeout, "only parked rows");
        Assert.Equal(new[] { badPayload.Id, empty.Id }.Order(), left.Select(r => r.Id).Order());
    }

    /// <summary>
    /// In a rolling upgrade an older replica shares <c>bulk_commands</c> with newer ones: a row of a command type it does
    /// not know is not its to park, but left as it is for a replica that knows it.
    /// </summary>
    [Fact]
    public async Task RowsOfATypeThisVersionDoesNotKnowAreLeftForAReplicaThatKnowsIt()
    {
        await using var api = await StatusApi.StartAsync();
        await using var listener = await CommandListener.StartAsync(api.RabbitMqUri);
        var scheduled = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(scheduled, to: ["alice@example.com"], scheduledAt: DateTimeOffset.UtcNow.AddDays(1)));
        // Written before the operation, so it comes first in the publisher's order.
        var unknownType = Row("ArchiveEmail", """[{"EmailId": "4b0c3c6e-7f0e-4a54-9d1d-1f0e6a2b9c11"}]""");
        await api.WithStoreAsync(db =>
        {
            db.BulkCommands.Add(unknownType);
            return db.SaveChangesAsync();
        });
        using var client = api.CreateClient();

        using var response = await PostAsync(client, "cancel", """{"filter": {"status": "scheduled"}}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var cancels = await Eventually.GetAsync(() => Task.FromResult(listener.Cancels), c => c.Count >= 1, Timeout, "the CancelEmail command");
        Assert.Equal(scheduled, Assert.Single(cancels).EmailId);
        // The operation's row is deleted once published; the unknown one, before it in order, was passed over as it was.
        var left = await Eventually.GetAsync(
            () => api.WithStoreAsync(db => db.BulkCommands.AsNoTracking().ToListAsync()), rows => rows.Count == 1, Timeout, "only the unknown row");
        Assert.Equal((unknownType.Id, null), (left[0].Id, left[0].ParkedAt));
    }

    [Fact]
    public async Task ReplicasSharingTheStorePublishEveryCommandOnce()
    {
        const int rows = 20;
        await using var database = await TemporaryDatabase.CreateAsync();
        await using var virtualHost = await TemporaryVirtualHost.CreateAsync();
        await using var listener = await CommandListener.StartAsync(virtualHost.Uri);
        await using var first = await StatusApi.StartAsync(database: database, rabbitMq: virtualHost.Uri);
        await using var second = await StatusApi.StartAsync(database: database, rabbitMq: virtualHost.Uri);
        var commands = Enumerable.Range(0, rows * 50).Select(_ => new CancelEmail(NewId.NextGuid(), Guid.NewGuid(), DateTimeOffset.UtcNow)).ToList();
        await first.WithStoreAsync(db =>
        {
            // Fifty commands a row, for many rows to share out.
            foreach (var chunk in commands.Chunk(50))
            {
                db.BulkCommands.AddRange(BulkCommands.Rows(Guid.NewGuid(), chunk, DateTime.UtcNow));
            }

            return db.SaveChangesAsync();
        });

        // Both replicas at once, each looping until it finds nothing left to claim (their own loops join in too).
        await Task.WhenAll(PublishAllAsync(first), PublishAllAsync(second));

        await Eventually.GetAsync(() => first.WithStoreAsync(db => db.BulkCommands.CountAsync()), n => n == 0, Timeout, "bulk_commands to drain");
        await Eventually.GetAsync(() => Task.FromResult(listener.Cancels), c => c.Count >= commands.Count, Timeout, "every CancelEmail command");
        // Both replicas stopped (their publishers' loops ended, their buses closed), whatever either published is in the
        // queue, ahead of a message sent now: once that one is received, every copy is. Disposing them again is a no-op.
        await first.DisposeAsync();
        await second.DisposeAsync();
        var last = new CancelEmail(NewId.NextGuid(), Guid.NewGuid(), DateTimeOffset.UtcNow);
        await listener.SendBehindAsync(last);
        await Eventually.GetAsync(() => Task.FromResult(listener.Cancels), c => c.Any(m => m.CommandId == last.CommandId), Timeout, "the message sent behind them");
        Assert.Equal(commands.Select(c => c.CommandId).Order(), listener.Cancels.Where(c => c.CommandId != last.CommandId).Select(c => c.CommandId).Order());
    }

    [Fact]
    public void CommandsAreStoredInRowsOfAtMostPerRowAndReadBackAsTheyWere()
    {
        var now = DateTime.UtcNow;
        var auditId = Guid.NewGuid();
        var commands = Enumerable.Range(0, (2 * BulkCommands.PerRow) + 1)
            .Select(i => new RetryRecipients(NewId.NextGuid(), Guid.NewGuid(), [$"user{i}@example.com", "ünïcode@exämple.com"], DateTimeOffset.UtcNow))
            .ToList();

        var rows = BulkCommands.Rows(auditId, commands, now);

        Assert.Equal([BulkCommands.PerRow, BulkCommands.PerRow, 1], rows.Select(r => BulkCommands.Read(r).Commands.Length));
        Assert.All(rows, r => Assert.Equal((auditId, nameof(RetryRecipients), now, typeof(RetryRecipients)), (r.AuditId, r.MessageType, r.CreatedAt, BulkCommands.Read(r).Type)));
        var read = rows.SelectMany(r => BulkCommands.Read(r).Commands).Cast<RetryRecipients>().ToList();
        Assert.Equal(commands.Select(c => (c.CommandId, c.EmailId, string.Join(",", c.Recipients), c.RequestedAt)),
            read.Select(c => (c.CommandId, c.EmailId, string.Join(",", c.Recipients), c.RequestedAt)));
        Assert.Throws<ArgumentException>(() => BulkCommands.Rows(auditId, new[] { new EmailQueued(Guid.NewGuid(), Guid.NewGuid(), DateTimeOffset.UtcNow) }, now));
    }

    private static BulkCommandRecord Row(string type, string payload) => new()
    {
        Id = Guid.CreateVersion7(DateTimeOffset.UtcNow.AddMinutes(-1)),
        AuditId = Guid.NewGuid(),
        MessageType = type,
        Payload = payload,
        CreatedAt = DateTime.UtcNow.AddMinutes(-1),
    };

    private static async Task PublishAllAsync(StatusApi api)
    {
        var publisher = api.Services.GetServices<IHostedService>().OfType<BulkCommandPublisher>().Single();
        while (await publisher.PublishOnceAsync(CancellationToken.None))
        {
        }
    }

    /// <summary>Records the events in one batch, as the consumers would under load (quicker than one at a time).</summary>
    private static async Task RecordTogetherAsync(StatusApi api, IReadOnlyList<object> events)
    {
        await using var scope = api.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<StatusRecorder>().RecordAsync([.. events.Select(e => new StatusEvent(e))], CancellationToken.None);
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string operation, string json) =>
        client.PostAsync($"/v1/bulk/{operation}", new StringContent(json, Encoding.UTF8, "application/json"));
}
