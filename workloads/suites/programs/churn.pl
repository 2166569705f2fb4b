# The programs suite's perl cell: hash, regex and string churn, deterministic (own LCG, sorted
# keys, so neither perl's hash seed nor its rand() matter); prints a checksum.
use strict;
use warnings;

my $rounds = shift // 6;
my $state = 12345;
sub rnd { $state = ($state * 1103515245 + 12345) % 2147483648; return $state >> 16; }

my @syll = qw(ka lo mi ne su ta ri po va xe qu zo);
sub word { my $n = 2 + rnd() % 4; return join '', map { $syll[rnd() % @syll] } 1 .. $n; }

my ($lines, $crc, %global) = (0, 0);
for my $r (1 .. $rounds) {
    # build a log of generated lines
    my @log;
    for my $i (1 .. 15000) {
        my $user = word();
        my $path = join '/', map { word() } 1 .. (1 + rnd() % 4);
        push @log, sprintf("%06d user=%s path=/%s status=%d bytes=%d note=\"%s %s\"",
                           $i, $user, $path, (200, 301, 404, 500)[rnd() % 4], rnd() % 100000,
                           word(), word());
    }
    # parse it back with regexes into nested hashes
    my %by_user;
    for (@log) {
        next unless /^(\d+) user=(\w+) path=(\S+) status=(\d+) bytes=(\d+) note="([^"]*)"/;
        my $u = $by_user{$2} //= { hits => 0, bytes => 0, paths => {}, notes => [] };
        $u->{hits}++;
        $u->{bytes} += $5;
        $u->{paths}{$3}++;
        push @{ $u->{notes} }, $6 if $4 >= 400;
        $lines++;
    }
    # string rewriting and a report
    my $report = '';
    for my $user (sort keys %by_user) {
        my $u = $by_user{$user};
        my $notes = join '|', map { (my $n = $_) =~ s/([aeiou])/uc $1/ge; $n } @{ $u->{notes} };
        $report .= "$user $u->{hits} $u->{bytes} " . scalar(keys %{ $u->{paths} }) . " $notes\n";
        $global{substr($user, 0, 4)} += $u->{hits};
    }
    my @parts = split /\s+/, $report;
    my %seen;
    $seen{$_}++ for @parts;
    $crc = unpack('%32C*', $report) + $crc * 31 + scalar(keys %seen);
    $crc %= 4294967296;
    delete $global{$_} for grep { $global{$_} < 3 } sort keys %global;
}
printf "rounds %d lines %d prefixes %d checksum %08x\n",
    $rounds, $lines, scalar(keys %global), $crc;
