using EmailPlatform.Status.Suppressions;
using EmailPlatform.Status.Tests.Support;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Tests.Suppressions;

/// <summary>
/// A PUT or an import that meets a hard bounce suppressing the same address at the same moment (the recorder's
/// <see cref="AutoSuppression"/>, on another connection): whichever goes first, the address ends up suppressed for good by
/// the bounce, never with the expiry or the source of the manual change.
/// </summary>
public sealed class SuppressionRaceTests
{
    private const string Address = "erin@example.com";

    [Theory]
    [InlineData("postgres", "put")]
    [InlineData("postgres", "import")]
    [InlineData("sqlite", "put")]
    [InlineData("sqlite", "import")]
    public async Task HardBounceBetweenTheReadAndTheWriteOfAnExpiryIsNeitherOverwrittenNorGivenTheExpiry(string provider, string operation)
    {
        await using var store = provider == "postgres" ? await StatusStore.PostgresAsync() : await StatusStore.SqliteAsync();
        await using (var db = store.NewContext())
        {
            if (provider == "sqlite")
            {
                await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;");
            }

            // Suppressed for a while by an operator; the worker sent to it anyway (a cached lookup) and it bounced as unknown.
            var now = DateTime.UtcNow;
            db.Suppressions.Add(new SuppressionRecord
            {
                Address = Address, Reason = "Asked for a pause", Source = SuppressionSources.Api, CreatedAt = now, UpdatedAt = now, ExpiresAt = now.AddDays(1),
            });
            await db.SaveChangesAsync();
        }

        var bounce = new WriterAfterFirstQuery(
            () => store.RecordAsync(TestEvents.Bounced(Guid.NewGuid(), Address)), store.PostgresConnectionString, TimeSpan.FromSeconds(2));
        var expiresAt = DateTimeOffset.UtcNow.AddDays(7);
        await using (var db = store.NewContext(bounce))
        {
            if (operation == "put")
            {
                var put = await SuppressionsEndpoints.PutAsync(Address, new PutSuppressionRequest("Pause for a week", expiresAt), db, TimeProvider.System, CancellationToken.None);

                // Either it went first and the bounce made the suppression permanent after it, or it saw the bounce and was refused.
                Assert.True(put.Result is Ok<SuppressionResponse> or ProblemHttpResult { StatusCode: 409 }, $"{put.Result}");
            }
            else
            {
                var import = await SuppressionsEndpoints.ImportAsync(
                    [new ImportSuppressionItem(Address, "Pause for a week", expiresAt)], db, TimeProvider.System, CancellationToken.None);
                Assert.IsType<Ok<ImportResponse>>(import.Result);
            }
        }

        await bounce.Writer.WaitAsync(TimeSpan.FromSeconds(60));
        await using (var db = store.NewContext())
        {
            var suppression = await db.Suppressions.AsNoTracking().SingleAsync();
            Assert.Equal((SuppressionSources.Bounce, null), (suppression.Source, suppression.ExpiresAt));
            Assert.Equal("5.1.1", suppression.EnhancedCode);
        }
    }
}
