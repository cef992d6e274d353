using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace EmailPlatform.ServiceDefaults.Storage;

/// <summary>
/// Every timestamp is stored in UTC; this marks values read back as UTC (SQLite returns them unspecified),
/// so they serialize with their 'Z'. Apply with <c>Properties&lt;DateTime&gt;().HaveConversion&lt;UtcDateTimeConverter&gt;()</c>.
/// </summary>
public sealed class UtcDateTimeConverter() : ValueConverter<DateTime, DateTime>(
    value => value.Kind == DateTimeKind.Utc ? value : value.ToUniversalTime(),
    value => DateTime.SpecifyKind(value, DateTimeKind.Utc));
