# bench/plot.gp -- the chart of `make bench`, from bench/results/latest.csv:
#   gnuplot -e "csv='bench/results/latest.csv'; out='bench/results/latest.png'" bench/plot.gp
# Four panels, Herald vs nchan (medians): throughput per scenario, latency
# p50/p99 per scenario ((a), (f): each server at its own saturation, so not the
# same load; (h): Herald's cluster alone, at its best step within budget),
# (e)'s latency percentiles, (d)'s and (g)'s RSS per connection. The engine
# comparison (r, latest-engines.csv) is in the tables only.
# CSV columns: scenario,metric,unit,better,herald,nchan,ratio,herald_runs,nchan_runs,label

if (!exists("csv")) csv = "bench/results/latest.csv"
if (!exists("out")) out = "bench/results/latest.png"

# The rows matching an awk condition, printed as: "tic" herald nchan
sel(cond, tic) = sprintf("< awk -F, 'NR > 1 && (%s) { print \"\\\"\" %s \"\\\"\", ($5 == \"\" ? 0 : $5), ($6 == \"\" ? 0 : $6) }' '%s'", cond, tic, csv)
# How many rows match; a panel without data says "not run" instead.
count(cond) = int(system(sprintf("awk -F, 'NR > 1 && (%s)' '%s' | wc -l", cond, csv)))

# Panels: the rows (awk condition on the CSV) and their tic labels (awk expression).
tput_rows = "$2 == \"saturation\" || $2 == \"deliveries_per_s\" || $2 == \"requests_per_s\""
tput_tics = "($1 == \"a\" ? \"(a) fan-out saturation\" : $1 == \"b\" ? \"(b) 1000 channels\" : $1 == \"c-memory\" ? \"(c) REST, memory\" : $1 == \"f\" ? \"(f) SSE fan-out saturation\" : $1 == \"h\" ? \"(h) 3 nodes on Redis, in budget\" : \"(c) REST, sqlite\")"
lat_rows = "$3 == \"ms\" && ($2 == \"p50_ms\" || $2 == \"p99_ms\")"
lat_tics = "($1 == \"a\" || $1 == \"f\" ? \"(\" $1 \") sat.\" : $1 == \"h\" ? \"(h) budget\" : $1 == \"c-memory\" ? \"(c) mem\" : $1 == \"c-sqlite\" ? \"(c) sqlite\" : \"(\" $1 \")\") \" \" substr($2, 1, 3)"
pct_rows = "$1 == \"e\" && $3 == \"ms\""
pct_tics = "substr($2, 1, length($2) - 3)"
rss_rows = "($1 == \"d\" || $1 == \"g\") && $2 == \"rss_per_conn\""
rss_tics = "($1 == \"d\" ? \"(d) per WebSocket\" : \"(g) per SSE stream\")"

set terminal pngcairo size 1400,1000 font "sans,10"
set output out
set datafile separator whitespace
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top left
herald_color = "#1f77b4"
nchan_color = "#d62728"

set multiplot layout 2,2 title "Herald vs nchan (make bench; medians)" font "sans,13"

set title "Throughput (higher is better)"
set logscale y
set ylabel "deliveries/s ((a), (b)), requests/s ((c))"
set format y "%.0s%c"
set xtics rotate by -20 left
if (count(tput_rows) > 0) {
  plot sel(tput_rows, tput_tics) using 2:xtic(1) title "Herald" lc rgb herald_color, \
       '' using 3 title "nchan" lc rgb nchan_color
} else {
  set label 99 "not run" at graph 0.5, 0.5 center; unset logscale y
  plot [0:1] [0:1] NaN notitle; unset label 99; set logscale y
}

set title "Latency per scenario (lower is better; (c) is the HTTP round trip)"
set ylabel "ms"
set format y "%g"
if (count(lat_rows) > 0) {
  plot sel(lat_rows, lat_tics) using 2:xtic(1) title "Herald" lc rgb herald_color, \
       '' using 3 title "nchan" lc rgb nchan_color
} else {
  set label 99 "not run" at graph 0.5, 0.5 center; unset logscale y
  plot [0:1] [0:1] NaN notitle; unset label 99; set logscale y
}

set title "(e) Latency percentiles, fan-out 1 -> 1000 at a moderate rate (lower is better)"
set xtics norotate
if (count(pct_rows) > 0) {
  plot sel(pct_rows, pct_tics) using 2:xtic(1) title "Herald" lc rgb herald_color, \
       '' using 3 title "nchan" lc rgb nchan_color
} else {
  set label 99 "not run" at graph 0.5, 0.5 center; unset logscale y
  plot [0:1] [0:1] NaN notitle; unset label 99
}

set title "(d), (g) Server RSS per idle connection (lower is better)"
unset logscale y
set ylabel "bytes"
if (count(rss_rows) > 0) {
  set yrange [0:*]
  plot sel(rss_rows, rss_tics) using 2:xtic(1) title "Herald" lc rgb herald_color, \
       '' using 3 title "nchan" lc rgb nchan_color
} else {
  set label 99 "not run" at graph 0.5, 0.5 center
  plot [0:1] [0:1] NaN notitle; unset label 99
}

unset multiplot
